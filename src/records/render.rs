//! A stored record as a given caller may see it: system keys added, every schema field present
//! (zero value when unset), hidden fields and secrets removed.

use crate::auth::Caller;
use crate::ids::Record;
use crate::schema::{names, Collection, FieldKind};
use serde_json::{Map, Value};

/// Auth-collection fields that never leave the server.
const SECRET_AUTH_FIELDS: [&str; 1] = [names::TOKEN_KEY];

/// The record JSON for `caller`.
pub fn record(col: &Collection, rec: &Record, caller: &Caller) -> Value {
    record_for(col, rec, caller, false)
}

/// The record JSON for `caller`; a `manager` (passes the auth collection's manageRule for this
/// record) sees its email whatever `emailVisibility` says, as in PocketBase.
pub fn record_for(col: &Collection, rec: &Record, caller: &Caller, manager: bool) -> Value {
    let data = rec.fields();
    let mut out = Map::new();
    out.insert(names::COLLECTION_ID.into(), Value::String(col.id.0.clone()));
    out.insert(
        names::COLLECTION_NAME.into(),
        Value::String(col.name.clone()),
    );
    let su = caller.is_superuser();
    let is_auth = col.auth.is_some();
    let own = is_auth
        && caller
            .auth()
            .is_some_and(|a| a.collection.id == col.id && a.id() == rec.id());
    for f in &col.fields {
        if is_auth && SECRET_AUTH_FIELDS.contains(&f.name.as_str()) {
            continue;
        }
        if matches!(f.kind, FieldKind::Password { .. }) {
            if !f.hidden {
                out.insert(f.name.clone(), Value::String(String::new()));
            }
            continue;
        }
        if f.hidden && !su {
            continue;
        }
        if is_auth
            && f.name == names::EMAIL
            && !su
            && !own
            && !manager
            && data.get(names::EMAIL_VISIBILITY) != Some(&Value::Bool(true))
        {
            continue;
        }
        let v = data.get(&f.name).cloned().unwrap_or_else(|| f.zero_value());
        out.insert(f.name.clone(), v);
    }
    Value::Object(out)
}
