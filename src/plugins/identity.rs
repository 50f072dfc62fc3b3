//! `{token}`: each plugin that uses it gets a dedicated `_superusers` record,
//! `<plugin>@plugins.ferrobase.invalid`, with a random password nobody knows, and `{token}` is an
//! ordinary (non-refreshable) superuser auth token of that record — so `Caller::from_token`
//! accepts it unchanged, every existing check applies, and hooks see which plugin wrote.
//!
//! "Valid while the plugin runs" is enforced by rotating the record's `tokenKey` (a password
//! change does that): at every start for all plugin identities (covers a previous run that was
//! killed, and plugins since removed) and at stop for the ones this run minted. Expiry is not
//! what revokes these tokens, so they are signed for ten years.

use crate::auth::{token, Caller};
use crate::ids::RecordId;
use crate::query::RequestInfo;
use crate::records::{ListParams, RecordService, Request, Shape};
use crate::schema::{names, random_alphanumeric, SUPERUSERS_ID};
use serde_json::{json, Value};

/// Email domain of plugin identities (`.invalid` can never receive mail).
pub const DOMAIN: &str = "plugins.ferrobase.invalid";
/// Lifetime of a plugin token; rotation, not expiry, revokes it.
const TOKEN_SECS: u64 = 10 * 365 * 24 * 3600;

/// The identity's email for `plugin`.
pub fn email(plugin: &str) -> String {
    format!("{plugin}@{DOMAIN}")
}

/// `(id, email)` of `_superusers` records matching `filter`, and the total.
fn superusers(
    records: &RecordService,
    filter: &str,
    per_page: usize,
) -> Result<(Vec<(String, String)>, u64), String> {
    let params = ListParams {
        filter: Some(filter.to_string()),
        per_page: Some(per_page.to_string()),
        ..ListParams::default()
    };
    let page = records
        .list(
            SUPERUSERS_ID,
            &params,
            &Caller::System,
            &RequestInfo::default(),
        )
        .map_err(|e| e.summary())?;
    let items = page.body["items"].as_array().cloned().unwrap_or_default();
    let found = items
        .iter()
        .filter_map(|r| {
            Some((
                r["id"].as_str()?.to_string(),
                r[names::EMAIL].as_str()?.to_string(),
            ))
        })
        .collect();
    Ok((found, page.body["totalItems"].as_u64().unwrap_or(0)))
}

/// Superusers that are not plugin identities (for the "create a superuser" hint at start).
pub fn human_superusers(records: &RecordService) -> Result<u64, String> {
    Ok(superusers(records, &format!("email !~ '@{DOMAIN}'"), 1)?.1)
}

fn password_body(data: Value) -> Request {
    Request {
        data: data.as_object().cloned().unwrap_or_default(),
        from_form: false,
        ..Default::default()
    }
}

/// A new random password: rotates `tokenKey`, revoking every token of the identity.
async fn rotate(records: &RecordService, id: &str) -> Result<(), String> {
    let pw = random_alphanumeric(40);
    records
        .update(
            SUPERUSERS_ID,
            id,
            &password_body(json!({"password": pw, "passwordConfirm": pw})),
            &Shape::default(),
            &Caller::System,
            &RequestInfo::default(),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.summary())
}

/// Revokes the tokens of every plugin identity (at start, before minting new ones).
pub async fn revoke_all(records: &RecordService) -> Result<(), String> {
    let (found, _) = superusers(records, &format!("email ~ '@{DOMAIN}'"), 500)?;
    for (id, _) in found {
        rotate(records, &id).await?;
    }
    Ok(())
}

/// Revokes `plugin`'s token (at stop).
pub async fn revoke(records: &RecordService, plugin: &str) -> Result<(), String> {
    let (found, _) = superusers(records, &format!("email = '{}'", email(plugin)), 1)?;
    for (id, _) in found {
        rotate(records, &id).await?;
    }
    Ok(())
}

/// A superuser token for `plugin`'s identity, creating the identity on first use.
pub async fn mint(records: &RecordService, plugin: &str) -> Result<String, String> {
    let address = email(plugin);
    let (found, _) = superusers(records, &format!("email = '{address}'"), 1)?;
    let id = match found.into_iter().next() {
        Some((id, _)) => id,
        None => {
            let pw = random_alphanumeric(40);
            let created = records
                .create(
                    SUPERUSERS_ID,
                    &password_body(json!({"email": address, "password": pw, "passwordConfirm": pw, "verified": true})),
                    &Shape::default(),
                    &Caller::System,
                    &RequestInfo::default(),
                )
                .await
                .map_err(|e| e.summary())?;
            created["id"].as_str().unwrap_or_default().to_string()
        }
    };
    sign(records, &id)
}

fn sign(records: &RecordService, id: &str) -> Result<String, String> {
    let col = records
        .schema
        .get(SUPERUSERS_ID)
        .ok_or("the _superusers collection is missing")?;
    let opts = col
        .auth
        .as_ref()
        .ok_or("_superusers is not an auth collection")?;
    let stored = records
        .store
        .get_record(&col.id, &RecordId::from(id))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("plugin identity {id} vanished"))?;
    let mut claims = token::Claims::new(col.id.as_str(), id, token::TYPE_AUTH, TOKEN_SECS);
    claims.refreshable = Some(false);
    token::sign_for_record(&claims, stored.record.fields(), &opts.auth_token.secret)
        .map_err(|e| e.to_string())
}
