//! Collections and their fields: definitions, validation of schema changes and of record values,
//! and the system collections. Never touches sled directly.
