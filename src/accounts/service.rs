//! [`AccountService`]: what the account flows need, passed explicitly (no `App`).

use crate::auth::{Caller, LoginLimiter};
use crate::error::ApiResult;
use crate::mail::Mailer;
use crate::records::RecordService;
use crate::schema::Registry;
use crate::settings::SettingsService;
use crate::store::Store;
use serde_json::Value;
use std::sync::Arc;

/// Login, token refresh and the account flows of auth collections, on top of the record service.
pub struct AccountService {
    pub records: Arc<RecordService>,
    pub store: Arc<dyn Store>,
    pub schema: Arc<Registry>,
    /// Failed-login limiting for every auth collection.
    pub logins: LoginLimiter,
    /// Outgoing mail (SMTP, or kept for `GET /api/mails`).
    pub mailer: Mailer,
    /// `{APP_NAME}` / `{APP_URL}` of mail templates come from `meta.appName` / `meta.appURL`
    /// in effect when the mail is built.
    pub settings: Arc<SettingsService>,
    /// The first-run setup token (see `setup.rs`).
    pub setup: super::Setup,
}

impl AccountService {
    pub fn new(
        records: Arc<RecordService>,
        logins: LoginLimiter,
        mailer: Mailer,
        settings: Arc<SettingsService>,
    ) -> Self {
        Self {
            store: records.store.clone(),
            schema: records.schema.clone(),
            records,
            logins,
            mailer,
            setup: super::Setup::default(),
            settings,
        }
    }

    /// The kept mails, newest first: superusers only (they hold account tokens).
    pub fn kept_mails(&self, caller: &Caller) -> ApiResult<Vec<Value>> {
        caller.require_superuser()?;
        let mut items = self.mailer.kept_mails();
        items.reverse();
        Ok(items)
    }
}
