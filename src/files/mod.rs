//! File storage for `file` fields: uploads staged on disk while a request streams in (bounded,
//! fsynced, MIME type sniffed from the content), placed under their record's folder before the
//! record commits and removed after a commit drops them, thumbnails made once and cached, and
//! orphans of a crash swept at start-up. Placed files live in a `Storage` (`backend.rs`): local disk
//! by default, or an S3-compatible bucket. Knows nothing of records, rules or HTTP: the record
//! layer decides what to place and remove (`records/files.rs`), the API serves downloads.

mod backend;
mod names;
mod staged;
mod storage;
mod thumb;

pub use backend::{Local, Meta, ReadStream, S3Options, Storage, S3};
pub use names::{safe_segment, stored_name};
pub use staged::{sniff, StageError, StagedFile};
pub use storage::{Files, RemovalHold};
pub use thumb::is_thumbable;
