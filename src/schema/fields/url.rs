//! `url`: an absolute URL whose host may be limited by `exceptDomains` / `onlyDomains`.

use super::options::{domain_lists, domains_json};
use super::{text_of, Kind, Reader};
use crate::error::FieldError;
use crate::schema::checks::{check_domain, url_host};
use crate::schema::field::{Field, FieldKind};
use serde_json::Value;

pub(crate) struct Url;

impl Kind for Url {
    fn name(&self) -> &'static str {
        "url"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        let (except_domains, only_domains) = r.domains();
        FieldKind::Url {
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
        let host = url_host(s)
            .ok_or_else(|| FieldError::new("validation_invalid_url", "Must be a valid url."))?;
        check_domain(
            host,
            except_domains,
            only_domains,
            "validation_url_domain_not_allowed",
            "Url",
        )
    }
}
