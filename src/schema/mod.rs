//! Collections and their fields: definitions, validation of schema changes and of record values,
//! and the system collections. Never touches sled directly.

mod auth_options;
mod checks;
mod collection;
mod collection_input;
mod datetime;
mod field;
mod field_parse;
mod field_value;
mod fields;
mod fields_build;
mod idgen;
mod index;
mod indexes_build;
pub mod names;
mod registry;
mod system;

pub use auth_options::{AuthOptions, PasswordAuth, TokenConfig, TOKEN_KEYS};
pub use collection::{Collection, CollectionType, SchemaChange, RULE_KEYS};
pub use collection_input::MAX_RULE_LEN;
pub use datetime::{format_datetime, format_rfc3339, normalize_date, now_string, parse_datetime};
pub use field::{Field, FieldKind, OptionErrors, Pattern, TextOptions, RESERVED_FIELD_NAMES};
pub(crate) use fields::too_many_files;
pub use fields::{
    valid_thumb, FileOptions, IndexKey, Modifier, DEFAULT_EDITOR_MAX_SIZE, DEFAULT_FILE_MAX_SIZE,
    DEFAULT_JSON_MAX_SIZE, DEFAULT_PASSWORD_MAX, DEFAULT_TEXT_MAX,
};
pub use idgen::{collection_id, field_id, generate_from_pattern, random_alphanumeric, random_id};
pub use index::parse_index;
pub use registry::{Registry, RuleCheck, Snapshot};
pub use system::{
    auth_default_indexes, auth_system_field, id_field, superusers_collection, users_collection,
    AUTH_SYSTEM_FIELDS, ID_PATTERN, SUPERUSERS_ID, SUPERUSERS_NAME, USERS_ID,
};
