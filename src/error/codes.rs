//! The registry of every stable error code Ferrobase puts on the wire (like Meilisearch's
//! `Code`): its name, where it appears with which HTTP status, and one line of meaning.
//!
//! HTTP codes sit in the PocketBase envelope under `data.<field>.code`; realtime codes are the
//! `code` of a WebSocket `{"type":"error"}` message. Call sites still spell codes as string
//! literals; a unit test scans `src/` and fails when one is missing here, and `docs/errors.md`
//! is generated from this table (checked by a test; rewrite it with
//! `cargo test --lib error::codes -- --ignored write_errors_md`).

use poem::http::StatusCode;

/// Where a code is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// In an HTTP error envelope with this status.
    Http(u16),
    /// In a WebSocket error message (`/api/realtime/ws`).
    Realtime,
    /// Both: HTTP envelopes with this status and WebSocket error messages.
    HttpAndRealtime(u16),
}

macro_rules! codes {
    ($($variant:ident = $name:literal, $surface:expr, $meaning:literal;)*) => {
        /// Every stable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// All codes, in registry order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as it appears on the wire.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// Where the code is sent (and with which HTTP status).
            pub const fn surface(self) -> Surface {
                use Surface::*;
                match self {
                    $(Code::$variant => $surface,)*
                }
            }

            /// One line saying what the code means.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }
        }
    };
}

impl Code {
    /// The HTTP status of the envelope carrying this code; `None` for realtime-only codes.
    pub fn status(self) -> Option<StatusCode> {
        match self.surface() {
            Surface::Http(s) | Surface::HttpAndRealtime(s) => StatusCode::from_u16(s).ok(),
            Surface::Realtime => None,
        }
    }

    /// The registered code with this wire name.
    pub fn from_name(name: &str) -> Option<Code> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }
}

codes! {
    // Request bodies and parameters.
    InvalidBody = "invalid_body", Http(400), "The request body is not a JSON object.";
    InvalidJson = "invalid_json", HttpAndRealtime(400), "The body, `@jsonPayload` or WebSocket message is not valid JSON.";
    BodyTooLarge = "validation_body_too_large", Http(413), "The request body exceeds `[server] body_limit`.";
    NotAFileField = "validation_not_a_file_field", Http(400), "A multipart file part is named after something that is not a file field of the collection.";
    InvalidFilter = "validation_invalid_filter", Http(400), "The `filter` does not parse or names unknown fields (message has the position).";
    InvalidSort = "validation_invalid_sort", Http(400), "The `sort` parameter names an unknown or unsortable field.";
    InvalidExpand = "validation_invalid_expand", Http(400), "The `expand` parameter names an unknown relation or is too deep.";
    ExpandLimit = "validation_expand_limit", Http(400), "Expanding would return more than `[server] max_expanded_records` records.";
    QueryTooExpensive = "query_too_expensive", Http(400), "The request's own work ran longer than `[server] request_budget_ms`.";
    BatchRequestFailed = "batch_request_failed", Http(400), "One request of a batch failed; `response` holds its own error envelope.";

    // File fields.
    FileSizeLimit = "validation_file_size_limit", Http(400), "An uploaded file is larger than the field's `maxSize` (params: file, maxSize).";
    TooManyFiles = "validation_too_many_files", Http(400), "A file field would hold more files than its `maxSelect`.";
    InvalidMimeType = "validation_invalid_mime_type", Http(400), "An upload's sniffed MIME type is not in the field's `mimeTypes`.";
    InvalidFile = "validation_invalid_file", Http(400), "A file field names a file the record does not hold (new files must be uploaded).";

    // Generic value checks.
    Required = "validation_required", Http(400), "A required value is missing or blank.";
    Empty = "validation_empty", Http(400), "The value must be empty (or the field hidden/unset) here.";
    InvalidValue = "validation_invalid_value", Http(400), "The value has the wrong type or shape for the field.";
    InvalidFormat = "validation_invalid_format", Http(400), "The value does not have the expected format.";
    InvalidBool = "validation_invalid_bool", Http(400), "The value is not a boolean.";
    InvalidNumber = "validation_invalid_number", Http(400), "The value is not a finite number.";
    InvalidDate = "validation_invalid_date", Http(400), "The value is not a valid date.";
    InvalidLatitude = "validation_invalid_latitude", Http(400), "A geoPoint's lat is outside -90..90 degrees.";
    InvalidLongitude = "validation_invalid_longitude", Http(400), "A geoPoint's lon is outside -180..180 degrees.";
    InvalidUrl = "validation_invalid_url", Http(400), "The value is not a valid URL (for webhooks also: not an allowed target, with the reason).";
    InvalidName = "validation_invalid_name", Http(400), "A webhook name is not a string of at most 255 characters.";
    InvalidCollections = "validation_invalid_collections", Http(400), "A webhook's collections are not a list of existing collection names or ids.";
    InvalidActions = "validation_invalid_actions", Http(400), "A webhook's actions are not a subset of create, update, delete.";
    InvalidSecret = "validation_invalid_secret", Http(400), "A webhook secret is not whsec_ plus base64 of 24 to 64 bytes.";
    InvalidHeaders = "validation_invalid_headers", Http(400), "A webhook's extra headers are invalid, too many, too large or reserved.";
    InvalidTimeout = "validation_invalid_timeout", Http(400), "A webhook timeout is not a whole number of seconds from 1 to 60.";
    UnknownField = "validation_unknown_field", Http(400), "The body has a key the resource does not have.";
    IsEmail = "validation_is_email", Http(400), "The value is not a valid email address.";
    InvalidRegex = "validation_invalid_regex", Http(400), "A pattern option is not a valid regular expression.";
    MatchInvalid = "validation_match_invalid", Http(400), "The value does not match the required pattern.";
    InInvalid = "validation_in_invalid", Http(400), "The value is not one of the allowed values.";
    NotInInvalid = "validation_not_in_invalid", Http(400), "The value is one of the forbidden values.";
    ValuesMismatch = "validation_values_mismatch", Http(400), "Values that must match (e.g. passwordConfirm) differ, or the field may not be set by this caller.";
    MinTextConstraint = "validation_min_text_constraint", Http(400), "The text is shorter than the field's `min`.";
    MaxTextConstraint = "validation_max_text_constraint", Http(400), "The text is longer than the field's `max`.";
    MinNumberConstraint = "validation_min_number_constraint", Http(400), "The number is below the field's `min`.";
    MaxNumberConstraint = "validation_max_number_constraint", Http(400), "The number is above the field's `max`.";
    OnlyIntConstraint = "validation_only_int_constraint", Http(400), "The field accepts integers only.";
    MinGreaterEqualThanRequired = "validation_min_greater_equal_than_required", Http(400), "The value is below the allowed minimum.";
    MaxLessEqualThanRequired = "validation_max_less_equal_than_required", Http(400), "The value is above the allowed maximum.";
    LengthTooLong = "validation_length_too_long", Http(400), "The value or list is longer than allowed.";
    LengthOutOfRange = "validation_length_out_of_range", Http(400), "The length is outside the allowed range.";
    TooManyValues = "validation_too_many_values", Http(400), "More values than the field's `maxSelect`.";
    NotEnoughValues = "validation_not_enough_values", Http(400), "Fewer values than the field's `minSelect`.";
    ContentSizeLimit = "validation_content_size_limit", Http(400), "The editor content exceeds the field's `maxSize`.";
    JsonSizeLimit = "validation_json_size_limit", Http(400), "The JSON value exceeds the field's `maxSize`.";
    JsonDepthLimit = "validation_json_depth_limit", Http(400), "The JSON value is nested too deeply.";
    EmailDomainNotAllowed = "validation_email_domain_not_allowed", Http(400), "The email's domain is not allowed by the field's domain lists.";
    UrlDomainNotAllowed = "validation_url_domain_not_allowed", Http(400), "The URL's domain is not allowed by the field's domain lists.";
    UnsupportedPattern = "validation_unsupported_pattern", Http(400), "An id `autogeneratePattern` uses syntax that is not supported.";

    // Records.
    NotUnique = "validation_not_unique", Http(400), "Another record already has this value in a unique index (or this id).";
    PkChange = "validation_pk_change", Http(400), "A record's id cannot be changed.";
    MissingRelRecords = "validation_missing_rel_records", Http(400), "A relation names records that do not exist.";
    InvalidPassword = "validation_invalid_password", Http(400), "The password is wrong or cannot be hashed.";
    InvalidOldPassword = "validation_invalid_old_password", Http(400), "`oldPassword` is missing or wrong.";
    InvalidNewEmail = "validation_invalid_new_email", Http(400), "`newEmail` is invalid or already taken.";
    InvalidToken = "validation_invalid_token", Http(400), "The verification/reset/email-change token is invalid or used.";
    InvalidTokenClaims = "validation_invalid_token_claims", Http(400), "The token does not belong to this collection or record.";
    InvalidTokenPayload = "validation_invalid_token_payload", Http(400), "The token lacks the data its flow needs.";

    // Collections and schema.
    InvalidCollection = "validation_invalid_collection", Http(400), "A referenced collection does not exist or has the wrong type.";
    CollectionIdExists = "validation_collection_id_exists", Http(400), "The collection id is already in use.";
    CollectionNameExists = "validation_collection_name_exists", Http(400), "The collection name is already in use.";
    CollectionNameIdDuplicate = "validation_collection_name_id_duplicate", Http(400), "Two imported collections share a name or id.";
    CollectionIdChange = "validation_collection_id_change", Http(400), "A collection's id cannot be changed.";
    CollectionTypeChange = "validation_collection_type_change", Http(400), "A collection's type cannot be changed.";
    CollectionsImportFailure = "validation_collections_import_failure", Http(400), "The collections import was refused as a whole.";
    SystemCollectionNameChange = "validation_system_collection_name_change", Http(400), "A system collection cannot be renamed.";
    SystemFieldNameChange = "validation_system_field_name_change", Http(400), "A system field cannot be renamed or removed.";
    UnsupportedCollectionType = "validation_unsupported_collection_type", Http(400), "The collection type is not supported.";
    DuplicatedFieldId = "validation_duplicated_field_id", Http(400), "Two fields share an id.";
    DuplicatedFieldName = "validation_duplicated_field_name", Http(400), "Two fields share a name.";
    FieldTypeChange = "validation_field_type_change", Http(400), "A field's type cannot be changed.";
    FieldRelationChange = "validation_field_relation_change", Http(400), "A relation field's target collection cannot be changed.";
    InvalidFields = "validation_invalid_fields", Http(400), "The fields list is invalid as a whole (e.g. too many fields).";
    InvalidRule = "validation_invalid_rule", Http(400), "An API rule does not compile (message has the position).";
    InvalidIndexExpression = "validation_invalid_index_expression", Http(400), "An index is malformed, or existing records violate a new unique index.";
    MissingUniqueConstraint = "validation_missing_unique_constraint", Http(400), "An auth identity field needs a unique index.";

    // Settings.
    InvalidCron = "validation_invalid_cron", Http(400), "`backups.cron` is not a 5-field cron expression or a macro such as `@daily`.";
    ConflictingRateLimitRule = "validation_conflicting_rate_limit_rule", Http(400), "Two rate limit rules have the same (or a prefix-overlapping) label and audience.";

    // Backups (`/api/backups`).
    BackupInProgress = "backup_in_progress", Http(400), "Another backup or restore is running (one at a time); `canBackup` of `/api/health` says when one can start.";
    BackupNameExists = "validation_backup_name_exists", Http(400), "A backup with this name already exists.";
    BackupNotFound = "backup_not_found", Http(400), "No backup has this key (delete, restore).";
    BackupInUse = "backup_in_use", Http(400), "The backup is being created or restored and cannot be deleted.";
    BackupInvalid = "backup_invalid", Http(400), "The zip is not a Ferrobase backup (no valid `manifest.json` or `data.dump`) or is corrupt.";
    BackupNewerFormat = "backup_newer_format", Http(400), "The backup's data-dir format is newer than this Ferrobase understands.";

    // Realtime subscriptions (SSE subscription POST as field codes; per-IP ones answer 429 there).
    TooManySubscriptionsField = "validation_too_many_subscriptions", Http(400), "More than `[realtime] max_subscriptions` on one connection.";
    FilterBudgetExceededField = "validation_filter_budget_exceeded", Http(400), "More than `[realtime] max_filter_bytes` of filters on one connection.";
    IpSubscriptionLimitField = "validation_ip_subscription_limit", Http(400), "More than `[realtime] max_subscriptions_per_ip` from one client IP.";
    IpFilterBudgetExceededField = "validation_ip_filter_budget_exceeded", Http(400), "More than `[realtime] max_filter_bytes_per_ip` from one client IP.";

    // Realtime WebSocket messages.
    InvalidMessage = "invalid_message", Realtime, "The WebSocket message lacks a required member or has the wrong shape.";
    UnknownType = "unknown_type", Realtime, "The WebSocket message's `type` is unknown.";
    NotSubscribed = "not_subscribed", Realtime, "`unsubscribe` named a subscription id that is not active.";
    RealtimeInvalidToken = "invalid_token", Realtime, "The `auth` message's token does not verify.";
    AuthExpired = "auth_expired", Realtime, "The connection's token expired or was revoked; subscriptions continue as guest.";
    InvalidTopic = "invalid_topic", Realtime, "The topic is not `collection` or `collection/id`.";
    UnknownCollection = "unknown_collection", Realtime, "The topic's collection does not exist.";
    InvalidFilterRealtime = "invalid_filter", Realtime, "The subscription's filter does not compile.";
    InvalidShape = "invalid_shape", Realtime, "The subscription's `expand` or `fields` is invalid.";
    TooManyReplays = "too_many_replays", Realtime, "Too many `since` replays are waiting on the connection.";
    TooManySubscriptions = "too_many_subscriptions", Realtime, "More than `[realtime] max_subscriptions` on one connection.";
    FilterBudgetExceeded = "filter_budget_exceeded", Realtime, "More than `[realtime] max_filter_bytes` of filters on one connection.";
    IpSubscriptionLimit = "ip_subscription_limit", Realtime, "More than `[realtime] max_subscriptions_per_ip` from one client IP.";
    IpFilterBudgetExceeded = "ip_filter_budget_exceeded", Realtime, "More than `[realtime] max_filter_bytes_per_ip` from one client IP.";
}

/// `docs/errors.md`: the registry as a table.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Error codes\n\n\
         Generated from `src/error/codes.rs` (a unit test keeps this file in step; rewrite it with\n\
         `cargo test --lib error::codes -- --ignored write_errors_md`). Do not edit by hand.\n\n\
         HTTP errors use PocketBase's envelope `{\"status\":…,\"message\":\"…\",\"data\":{…}}`; a code\n\
         sits under `data.<field>.code` (`data.request` for `query_too_expensive`). Errors without a\n\
         field (401, 403, 404, 429, 500, 502, 503) have `data: {}` and no code. Realtime codes are the\n\
         `code` of a WebSocket `{\"type\":\"error\"}` message.\n\n\
         | code | where | meaning |\n|---|---|---|\n",
    );
    for c in Code::ALL {
        let place = match c.surface() {
            Surface::Http(s) => format!("HTTP {s}"),
            Surface::Realtime => "realtime".to_string(),
            Surface::HttpAndRealtime(s) => format!("HTTP {s}, realtime"),
        };
        out.push_str(&format!("| `{}` | {place} | {} |\n", c.name(), c.meaning()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("read src dir");
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// `"a_b…"`: lower snake case with at least one underscore.
    fn is_code(s: &str) -> bool {
        s.contains('_')
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    /// The string literal that is the code argument of a call whose opener precedes `text`:
    /// the first argument, or the second after a plain one (`error(None, "…"`, `error(id, "…"`).
    fn first_literal(text: &str) -> Option<&str> {
        let start = text.find('"')?;
        let before: String = text[..start].split_whitespace().collect();
        let plain_arg = |a: &str| {
            a.strip_suffix(',').is_some_and(|a| {
                let a = a
                    .strip_prefix("Some(")
                    .and_then(|a| a.strip_suffix(')'))
                    .unwrap_or(a);
                !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        };
        if !(before.is_empty() || plain_arg(&before)) {
            return None;
        }
        let rest = &text[start + 1..];
        Some(&rest[..rest.find('"')?])
    }

    /// Code literals in a source file: every `"validation_…"`, and the first literal after a
    /// call that takes a code (`FieldError::new(`, `Refusal::new(`, realtime `error(`, `"code":`).
    fn codes_in(src: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for (i, _) in src.match_indices("\"validation_") {
            let rest = &src[i + 1..];
            if let Some(lit) = rest
                .find('"')
                .map(|end| &rest[..end])
                .filter(|l| is_code(l))
            {
                found.insert(lit.to_string());
            }
        }
        for opener in ["FieldError::new(", "Refusal::new(", "error(", "\"code\":"] {
            for (i, _) in src.match_indices(opener) {
                let after = &src[i + opener.len()..];
                if let Some(lit) = first_literal(after).filter(|l| is_code(l)) {
                    found.insert(lit.to_string());
                }
            }
        }
        found
    }

    fn sources() -> Vec<(PathBuf, String)> {
        let mut files = Vec::new();
        rust_files(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        files.sort();
        files
            .into_iter()
            .filter(|p| !p.ends_with("error/codes.rs"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("read source");
                (p, text)
            })
            .collect()
    }

    #[test]
    fn every_code_in_the_source_is_registered() {
        let mut missing = Vec::new();
        for (path, text) in sources() {
            for code in codes_in(&text) {
                if Code::from_name(&code).is_none() {
                    missing.push(format!("{code} ({})", path.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "error codes used in src/ but missing from src/error/codes.rs:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn every_registered_code_is_used_and_unique() {
        let all: String = sources().into_iter().map(|(_, t)| t).collect();
        let mut seen = BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.name()), "{} registered twice", c.name());
            assert!(
                all.contains(&format!("\"{}\"", c.name())),
                "{} is registered but no longer used in src/",
                c.name()
            );
            assert!(!c.meaning().is_empty() && !c.meaning().contains('|'));
        }
    }

    #[test]
    fn scanner_finds_codes_in_calls() {
        let src = r#"
            FieldError::new("validation_a_b", "x");
            conn.send(error(
                Some(id),
                "some_code",
                "message",
            ));
            fn error(id: Option<&str>) { json!({"type": "error", "code": code}) }
            json!({"code": "other_code"});
            FieldError::new(code, msg).with_params(json!({"max_size": 1}));
        "#;
        let found: Vec<String> = codes_in(src).into_iter().collect();
        assert_eq!(found, ["other_code", "some_code", "validation_a_b"]);
    }

    #[test]
    fn statuses_are_real() {
        for c in Code::ALL {
            if let Surface::Http(s) | Surface::HttpAndRealtime(s) = c.surface() {
                let status = c.status().expect("valid status");
                assert!(status.is_client_error(), "{}: {s}", c.name());
            }
        }
        assert_eq!(
            Code::from_name("validation_body_too_large").and_then(Code::status),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        assert_eq!(Code::from_name("auth_expired").and_then(Code::status), None);
    }

    #[test]
    fn errors_md_is_generated_from_the_registry() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == markdown(),
            "docs/errors.md is stale: run `cargo test --lib error::codes -- --ignored write_errors_md`"
        );
    }

    #[test]
    #[ignore = "writes docs/errors.md"]
    fn write_errors_md() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md");
        std::fs::write(path, markdown()).expect("write docs/errors.md");
    }
}
