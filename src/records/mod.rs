//! The record service: create, view, update, delete and list records of a collection, with
//! validation against the schema, access checks, PocketBase modifiers and relation cascades.
//! Builds store transactions; never renders HTTP.

mod access;
mod auth_fields;
mod batch;
mod cascade;
mod expand;
mod fields;
mod files;
mod hooks;
mod id;
mod list;
mod locks;
mod modifiers;
pub mod render;
mod service;
mod shape;
mod tx;
mod write;

pub use access::{can_read, check as check_access, eval as eval_rule, request_info, Op};
pub use batch::{batch, BatchItem};
pub use files::{file_options, file_too_large, names_of as file_names, Located, Upload};
pub use hooks::{AuthRef, HookEvent, HookFuture, PendingWrite, WriteHooks};
pub use list::{
    list, parse_number, ListParams, ListResult, Page, PageParams, DEFAULT_PER_PAGE, MAX_PER_PAGE,
};
pub use locks::RecordLocks;
pub use modifiers::split_key;
pub use service::{RecordLimits, RecordService};
pub use shape::Shape;
pub use tx::Tx;
pub use write::{create, delete, update, view, Request};
