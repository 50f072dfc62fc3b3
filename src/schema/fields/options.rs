//! Reading option values of a field object: types, defaults, and errors recorded per option.

use crate::error::FieldError;
use crate::schema::datetime::{format_datetime, parse_datetime};
use crate::schema::field::{FieldKind, OptionErrors, Pattern};
use serde_json::{json, Map, Value};

/// Reads typed option values, recording an error (and using the default) on a type mismatch.
pub(crate) struct Reader<'a> {
    o: &'a Map<String, Value>,
    pub(crate) errs: OptionErrors,
}

pub(crate) fn invalid(msg: &str) -> FieldError {
    FieldError::new("validation_invalid_value", msg)
}

/// `max` must not be below `min` (PocketBase reports it on `max`).
pub(crate) fn min_over_max(min: impl Into<Value>) -> FieldError {
    let min = min.into();
    FieldError::new(
        "validation_min_greater_equal_than_required",
        format!("Must be no less than {min}."),
    )
    .with_params(json!({ "threshold": min }))
}

impl<'a> Reader<'a> {
    pub(crate) fn new(o: &'a Map<String, Value>) -> Self {
        Self {
            o,
            errs: Vec::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.o.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&mut self, key: &'static str) -> String {
        match self.get(key) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.errs.push((key, invalid("Must be a string.")));
                String::new()
            }
        }
    }

    pub(crate) fn boolean(&mut self, key: &'static str) -> bool {
        match self.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.errs.push((key, invalid("Must be a boolean.")));
                false
            }
        }
    }

    pub(crate) fn uint(&mut self, key: &'static str, limit: u64) -> u64 {
        let Some(v) = self.get(key) else { return 0 };
        match v.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= limit as f64 => f as u64,
            _ => {
                let msg = format!("Must be a whole number between 0 and {limit}.");
                self.errs.push((key, invalid(&msg)));
                0
            }
        }
    }

    pub(crate) fn u32(&mut self, key: &'static str) -> u32 {
        u32::try_from(self.uint(key, u64::from(u32::MAX))).unwrap_or(0)
    }

    pub(crate) fn float(&mut self, key: &'static str) -> Option<f64> {
        let v = self.get(key)?;
        let f = v.as_f64().filter(|f| f.is_finite());
        if f.is_none() {
            self.errs.push((key, invalid("Must be a number or null.")));
        }
        f
    }

    pub(crate) fn strings(&mut self, key: &'static str) -> Vec<String> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        match v
            .as_array()
            .and_then(|a| a.iter().map(|x| x.as_str().map(String::from)).collect())
        {
            Some(list) => list,
            None => {
                self.errs.push((key, invalid("Must be a list of strings.")));
                Vec::new()
            }
        }
    }

    pub(crate) fn pattern(&mut self, key: &'static str) -> Pattern {
        let src = self.string(key);
        Pattern::new(&src).unwrap_or_else(|e| {
            let msg = format!("Invalid regular expression: {e}");
            self.errs
                .push((key, FieldError::new("validation_invalid_regex", msg)));
            Pattern::default()
        })
    }

    pub(crate) fn date(&mut self, key: &'static str) -> String {
        let raw = self.string(key);
        if raw.is_empty() {
            return raw;
        }
        match parse_datetime(&raw) {
            Some(dt) => format_datetime(dt),
            None => {
                self.errs.push((
                    key,
                    FieldError::new("validation_invalid_date", "Must be a valid date."),
                ));
                String::new()
            }
        }
    }

    /// `exceptDomains` and `onlyDomains` of email and url fields; at most one may be set.
    pub(crate) fn domains(&mut self) -> (Vec<String>, Vec<String>) {
        let except_domains = self.strings("exceptDomains");
        let only_domains = self.strings("onlyDomains");
        if !except_domains.is_empty() && !only_domains.is_empty() {
            let msg = "Must be blank when onlyDomains is set.";
            self.fail("exceptDomains", FieldError::new("validation_empty", msg));
        }
        (except_domains, only_domains)
    }

    pub(crate) fn fail(&mut self, key: &'static str, err: FieldError) {
        self.errs.push((key, err));
    }
}

/// `(exceptDomains, onlyDomains)` of an email or url field (both empty for other kinds).
pub(crate) fn domain_lists(kind: &FieldKind) -> (&[String], &[String]) {
    match kind {
        FieldKind::Email {
            except_domains,
            only_domains,
        }
        | FieldKind::Url {
            except_domains,
            only_domains,
        } => (except_domains, only_domains),
        _ => (&[], &[]),
    }
}

/// The domain options of an email or url field as they appear in the collection JSON.
pub(crate) fn domains_json(kind: &FieldKind) -> Value {
    let (except_domains, only_domains) = domain_lists(kind);
    json!({"exceptDomains": except_domains, "onlyDomains": only_domains})
}
