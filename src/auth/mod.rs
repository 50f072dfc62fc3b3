//! Authentication: argon2id password hashes, JWTs with PocketBase's claims, the [`Caller`]
//! extractor, and the password login / refresh flows.

mod caller;
mod limiter;
mod login;
pub mod password;
pub mod token;

pub use caller::{AuthRecord, Caller};
pub use limiter::{LimitPolicy, LoginLimiter};
pub use login::{auth_with_password, find_by_unique, refresh, AuthResponse};
