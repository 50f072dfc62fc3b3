//! The only module that touches sled: key layout, record encoding, the single writer task with
//! group commit, the change log and index maintenance. Knows nothing about HTTP or schemas.

mod types;

pub use types::*;
