//! Authentication: argon2id password hashes, JWTs with PocketBase's claims, the [`Caller`]
//! extractor, password login / refresh, and the account flows (verification, password reset,
//! email change, impersonation).

mod caller;
mod flows;
mod limiter;
mod login;
pub mod password;
pub mod token;

pub use caller::{AuthRecord, Caller};
pub use flows::{
    auth_methods, confirm_email_change, confirm_password_reset, confirm_verification, impersonate,
    request_email_change, request_password_reset, request_verification,
};
pub use limiter::{LimitPolicy, LoginLimiter, RequestLimiter};
pub use login::{auth_with_password, find_by_unique, refresh, AuthResponse};
