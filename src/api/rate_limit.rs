//! Request rate limits by the settings' `rateLimits` (defaults: `[rate_limit]` as one `/api/`
//! rule), matched like PocketBase's `FindRateLimitRule`: the request's labels in order —
//! `<collection>:<action>` and `*:<action>` for record and auth endpoints, then
//! `<METHOD> <path>` and `<path>` — each first against a rule's exact label, then against rules
//! ending in `/` as a path prefix; a rule's `audience` (`@guest`, `@auth`, or everyone) must
//! fit the caller. Counted per rule and client IP (after `trustedProxy`) in fixed windows of
//! `duration` seconds; over `maxRequests` is 429 with `Retry-After`. Runs before any handler.

use super::meta::{self, CallerSlot};
use crate::app::App;
use crate::settings::RateLimitRule;
use poem::{Endpoint, IntoResponse, Request, Response};
use std::sync::Arc;
use std::time::Duration;

/// The action tag of a collection endpoint (`records` CRUD and auth flows), PocketBase's names.
fn action(method: &str, rest: &[&str]) -> Option<&'static str> {
    Some(match (method, rest) {
        ("GET" | "HEAD", ["records"]) => "list",
        ("GET" | "HEAD", ["records", _]) => "view",
        ("POST", ["records"]) => "create",
        ("PATCH", ["records", _]) => "update",
        ("DELETE", ["records", _]) => "delete",
        ("POST", ["auth-with-password" | "auth-with-oauth2" | "auth-with-otp"]) => "auth",
        ("POST", ["auth-refresh"]) => "authRefresh",
        ("GET", ["auth-methods"]) => "listAuthMethods",
        ("POST", ["request-verification"]) => "requestVerification",
        ("POST", ["confirm-verification"]) => "confirmVerification",
        ("POST", ["request-password-reset"]) => "requestPasswordReset",
        ("POST", ["confirm-password-reset"]) => "confirmPasswordReset",
        ("POST", ["request-email-change"]) => "requestEmailChange",
        ("POST", ["confirm-email-change"]) => "confirmEmailChange",
        ("POST", ["request-otp"]) => "requestOTP",
        ("POST", ["impersonate", _]) => "impersonate",
        _ => return None,
    })
}

/// The labels a request is looked up by, most specific first.
pub fn labels(method: &str, path: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(4);
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    if let ["api", "collections", collection, rest @ ..] = segs.as_slice() {
        if let Some(a) = action(method, rest) {
            out.push(format!("{collection}:{a}"));
            out.push(format!("*:{a}"));
        }
    }
    out.push(format!("{method} {path}"));
    out.push(path.to_string());
    out
}

/// The first rule for `labels` whose audience admits the caller (`authed` is asked only when
/// a candidate rule has an audience).
pub fn find<'r>(
    rules: &'r [RateLimitRule],
    labels: &[String],
    mut authed: impl FnMut() -> bool,
) -> Option<&'r RateLimitRule> {
    let mut fits = |r: &RateLimitRule| match r.audience.as_str() {
        "" => true,
        "@guest" => !authed(),
        "@auth" => authed(),
        _ => false,
    };
    for label in labels {
        if let Some(r) = rules.iter().find(|r| r.label == *label && fits(r)) {
            return Some(r);
        }
        let prefixed = format!("{label}/");
        if let Some(r) = rules
            .iter()
            .find(|r| r.label.ends_with('/') && prefixed.starts_with(r.label.as_str()) && fits(r))
        {
            return Some(r);
        }
    }
    None
}

pub async fn around<E: Endpoint>(
    app: Arc<App>,
    ep: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let settings = app.settings.current();
    let limits = &settings.rate_limits;
    if limits.enabled && !limits.rules.is_empty() {
        let labels = labels(req.method().as_str(), req.uri().path());
        let authed = || {
            let slot = req.extensions().get::<CallerSlot>();
            let caller = match slot.and_then(|s| s.0.get()) {
                Some(c) => c.clone(),
                None => {
                    let c = meta::resolve_caller(&app, &req);
                    if let Some(s) = slot {
                        let _ = s.0.set(c.clone());
                    }
                    c
                }
            };
            caller.auth().is_some()
        };
        if let Some(rule) = find(&limits.rules, &labels, authed) {
            let ip = meta::real_ip(&req, &settings.trusted_proxy);
            let key = format!("{}@@{}|{ip}", rule.label, rule.audience);
            let max = u32::try_from(rule.max_requests).unwrap_or(u32::MAX);
            let window = Duration::from_secs(u64::try_from(rule.duration).unwrap_or(1).max(1));
            if let Err(e) = app.requests.hit_with(&key, max, window) {
                return Ok(poem::error::ResponseError::as_response(&e));
            }
        }
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(label: &str, audience: &str) -> RateLimitRule {
        RateLimitRule {
            label: label.into(),
            audience: audience.into(),
            duration: 1,
            max_requests: 1,
        }
    }

    #[test]
    fn labels_and_matching_follow_pocketbase() {
        assert_eq!(
            labels("POST", "/api/collections/users/auth-with-password"),
            [
                "users:auth",
                "*:auth",
                "POST /api/collections/users/auth-with-password",
                "/api/collections/users/auth-with-password"
            ]
        );
        assert_eq!(
            labels("GET", "/api/health"),
            ["GET /api/health", "/api/health"]
        );
        let rules = vec![
            rule("/api/", ""),
            rule("*:create", ""),
            rule("posts:create", "@guest"),
            rule("POST /api/batch", ""),
        ];
        let pick = |m: &str, p: &str, authed: bool| {
            find(&rules, &labels(m, p), || authed).map(|r| r.label.clone())
        };
        assert_eq!(pick("GET", "/api/health", false).as_deref(), Some("/api/"));
        assert_eq!(
            pick("POST", "/api/collections/posts/records", false).as_deref(),
            Some("posts:create")
        );
        assert_eq!(
            pick("POST", "/api/collections/posts/records", true).as_deref(),
            Some("*:create")
        );
        assert_eq!(
            pick("POST", "/api/batch", true).as_deref(),
            Some("POST /api/batch")
        );
        assert_eq!(pick("GET", "/api", false).as_deref(), Some("/api/"));
        assert_eq!(pick("GET", "/_/", false), None);
    }
}
