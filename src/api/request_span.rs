//! The outermost middleware: one tracing span per request carrying its id, method and path, so
//! every line logged while serving it (including on the CPU work pool and the internal-error
//! line of `error.rs`) names the request; a `request finished` debug line adds status and
//! duration. The id is the client's `X-Request-Id` when sane, else generated, and is returned
//! in `X-Request-Id` on every response.

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use rand::distributions::Alphanumeric;
use rand::Rng;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The request id header, read and written.
pub const HEADER: &str = "x-request-id";
/// Longest client-sent id that is kept; longer ones are replaced by a generated id.
pub const MAX_ID_LEN: usize = 128;
/// Length of a generated id (alphanumeric).
const GENERATED_LEN: usize = 20;

pub async fn around<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| sane(v.as_bytes()))
        .unwrap_or_else(generate);
    // At ERROR level so the span exists whenever anything at all is logged: an error line must
    // carry the id even with `level = "error"`.
    let span = tracing::error_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %crate::error::echo(req.uri().path()),
    );
    let started = Instant::now();
    let mut resp = ep
        .call(req)
        .instrument(span.clone())
        .await
        .map(IntoResponse::into_response)
        .unwrap_or_else(|e| e.into_response());
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| {
        tracing::debug!(
            status = resp.status().as_u16(),
            duration_us,
            "request finished"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    Ok(resp)
}

/// The client's id if it is 1..=[`MAX_ID_LEN`] visible ASCII characters (no spaces), so it can
/// go into logs and back into a header unchanged.
fn sane(raw: &[u8]) -> Option<String> {
    let ok = (1..=MAX_ID_LEN).contains(&raw.len()) && raw.iter().all(u8::is_ascii_graphic);
    ok.then(|| String::from_utf8_lossy(raw).into_owned())
}

fn generate() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(GENERATED_LEN)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_client_ids_are_kept() {
        assert_eq!(sane(b"abc-1_2.3:4/5").as_deref(), Some("abc-1_2.3:4/5"));
        let max = "x".repeat(MAX_ID_LEN);
        assert_eq!(sane(max.as_bytes()), Some(max.clone()));
        for bad in [
            &b""[..],
            "x".repeat(MAX_ID_LEN + 1).as_bytes(),
            b"a b",
            b"a\tb",
            b"caf\xc3\xa9",
            b"a\x7f",
        ] {
            assert_eq!(sane(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_sane_and_distinct() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), GENERATED_LEN);
        assert_eq!(sane(a.as_bytes()), Some(a.clone()));
        assert_ne!(a, b);
    }
}
