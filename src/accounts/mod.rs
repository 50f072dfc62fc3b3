//! Account flows of auth collections on top of the record service: password login and token
//! refresh, `auth-methods`, email verification, password reset, email change and superuser
//! impersonation. Identity itself (tokens, password hashes, [`Caller`](crate::auth::Caller))
//! is `auth`'s.

mod bodies;
mod flows;
mod login;
mod service;
mod setup;

pub use bodies::{
    parse as parse_body, EmailChangeConfirm, EmailChangeRequest, EmailRequest, Impersonation,
    PasswordLogin, PasswordResetConfirm, TokenConfirm,
};
pub use flows::{
    auth_methods, confirm_email_change, confirm_password_reset, confirm_verification, impersonate,
    request_email_change, request_password_reset, request_verification, test_email,
};
pub use login::{auth_with_password, file_token, find_by_unique, refresh, AuthResponse};
pub use service::AccountService;
pub use setup::{Setup, SetupBody, MSG_BAD_TOKEN};
