//! Names of system fields and of the keys PocketBase adds to or reads from a record, in one
//! place: the wire format depends on their exact spelling.

/// Primary key of every record (the key [`crate::ids::Record`] keeps equal to its id).
pub const ID: &str = crate::ids::ID_FIELD;
/// `created` autodate of the default collections.
pub const CREATED: &str = "created";
/// `updated` autodate of the default collections.
pub const UPDATED: &str = "updated";
/// Key the rendered record carries with its collection's id.
pub const COLLECTION_ID: &str = "collectionId";
/// Key the rendered record carries with its collection's name.
pub const COLLECTION_NAME: &str = "collectionName";
/// Key of expanded relations in a rendered record.
pub const EXPAND: &str = "expand";

/// Auth collections: the password hash (never rendered).
pub const PASSWORD: &str = "password";
/// Auth collections: the per-record token signing key (never rendered).
pub const TOKEN_KEY: &str = "tokenKey";
/// Auth collections: the login email, lower-cased.
pub const EMAIL: &str = "email";
/// Auth collections: whether others may see `email`.
pub const EMAIL_VISIBILITY: &str = "emailVisibility";
/// Auth collections: whether `email` has been confirmed.
pub const VERIFIED: &str = "verified";
/// Auth record writes: the repeated new password.
pub const PASSWORD_CONFIRM: &str = "passwordConfirm";
/// Auth record writes by the owner: the current password, required to change it.
pub const OLD_PASSWORD: &str = "oldPassword";
