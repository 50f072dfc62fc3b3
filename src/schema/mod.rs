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
mod fields_build;
mod idgen;
mod index;
mod registry;
mod system;

// The re-exports are the module's API; in this binary crate some have no caller yet.
#[allow(unused_imports)]
pub use auth_options::{AuthOptions, PasswordAuth, TokenConfig, TOKEN_KEYS};
#[allow(unused_imports)]
pub use collection::{Collection, CollectionType, SchemaChange, RULE_KEYS};
#[allow(unused_imports)]
pub use collection_input::MAX_RULE_LEN;
#[allow(unused_imports)]
pub use datetime::{format_datetime, format_rfc3339, normalize_date, now_string, parse_datetime};
#[allow(unused_imports)]
pub use field::{Field, FieldKind, OptionErrors, Pattern, TextOptions, RESERVED_FIELD_NAMES};
#[allow(unused_imports)]
pub use field_value::{
    DEFAULT_EDITOR_MAX_SIZE, DEFAULT_JSON_MAX_SIZE, DEFAULT_PASSWORD_MAX, DEFAULT_TEXT_MAX,
};
#[allow(unused_imports)]
pub use idgen::{collection_id, field_id, generate_from_pattern, random_alphanumeric, random_id};
#[allow(unused_imports)]
pub use index::parse_index;
pub use registry::{Registry, Snapshot};
#[allow(unused_imports)]
pub use system::{
    auth_default_indexes, auth_system_field, id_field, superusers_collection, AUTH_SYSTEM_FIELDS,
    ID_PATTERN, SUPERUSERS_ID, SUPERUSERS_NAME,
};
