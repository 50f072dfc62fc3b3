//! Identity: argon2id password hashes, JWTs with PocketBase's claims, who is asking
//! ([`Caller`], resolved from a token against the store and schema) and the login limiters.
//! A leaf below records: it never uses records, realtime, api or the app; the account flows
//! that read and write records live in `accounts`.

mod caller;
mod limiter;
pub mod password;
pub mod token;

pub use caller::{AuthRecord, Caller};
pub use limiter::{LimitPolicy, LoginLimiter, RequestLimiter};
