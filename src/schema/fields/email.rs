//! `email`: an address whose domain may be limited by `exceptDomains` / `onlyDomains`.

use super::options::{domain_lists, domains_json};
use super::{text_of, Kind, Reader};
use crate::error::FieldError;
use crate::schema::checks::{check_domain, email_domain};
use crate::schema::field::{Field, FieldKind};
use serde_json::Value;

pub(crate) struct Email;

impl Kind for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        let (except_domains, only_domains) = r.domains();
        FieldKind::Email {
            except_domains,
            only_domains,
        }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        domains_json(kind)
    }

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let (except_domains, only_domains) = domain_lists(&field.kind);
        let s = text_of(v)?;
        let domain = email_domain(s).ok_or_else(|| {
            FieldError::new("validation_is_email", "Must be a valid email address.")
        })?;
        check_domain(
            domain,
            except_domains,
            only_domains,
            "validation_email_domain_not_allowed",
            "Email",
        )
    }
}
