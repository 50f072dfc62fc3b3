//! Collection rules for each operation. Until the rule engine lands, a rule is `null`
//! (superusers only), `""` (everyone) or an expression (treated as superusers only).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, MSG_SUPERUSERS_ONLY};
use crate::schema::Collection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    View,
    Create,
    Update,
    Delete,
}

fn rule(col: &Collection, op: Op) -> &Option<String> {
    match op {
        Op::List => &col.list_rule,
        Op::View => &col.view_rule,
        Op::Create => &col.create_rule,
        Op::Update => &col.update_rule,
        Op::Delete => &col.delete_rule,
    }
}

/// Whether `caller` may perform `op` on `col` at all (PocketBase: 403 for a null rule).
pub fn check(col: &Collection, op: Op, caller: &Caller) -> ApiResult<()> {
    if caller.is_superuser() {
        return Ok(());
    }
    match rule(col, op) {
        Some(r) if r.trim().is_empty() => Ok(()),
        _ => Err(ApiError::Forbidden(MSG_SUPERUSERS_ONLY.into())),
    }
}

/// Whether `caller` may read `record` of `col` through `op` (`List` for `coll/*` subscriptions
/// and list results, `View` for single records and expands). The one visibility check shared by
/// REST, realtime and webhooks; rule expressions are evaluated per record once the rule engine
/// is wired in (until then they mean superusers only, like [`check`]).
pub fn can_read(
    app: &crate::app::App,
    col: &Collection,
    op: Op,
    record: &crate::ids::RecordData,
    caller: &Caller,
) -> bool {
    let _ = (app, record);
    check(col, op, caller).is_ok()
}
