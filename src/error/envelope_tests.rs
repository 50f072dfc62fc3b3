//! Snapshot tests (insta) of the error envelopes as clients see them: status, the headers that
//! matter and the JSON body. A changed snapshot is a changed wire format: review it like one.

use super::*;

/// `status`, `Retry-After` when present, then the pretty-printed body.
async fn render(e: ApiError) -> String {
    let resp = poem::error::ResponseError::as_response(&e);
    let mut out = format!("status: {}\n", resp.status().as_u16());
    if let Some(v) = resp.headers().get(poem::http::header::RETRY_AFTER) {
        out.push_str(&format!("retry-after: {}\n", v.to_str().unwrap_or("?")));
    }
    if let Some(v) = resp.headers().get(poem::http::header::CONTENT_TYPE) {
        out.push_str(&format!("content-type: {}\n", v.to_str().unwrap_or("?")));
    }
    let body = resp.into_body().into_string().await.expect("body");
    let json: Value = serde_json::from_str(&body).expect("JSON body");
    out.push_str(&serde_json::to_string_pretty(&json).expect("pretty"));
    out
}

#[tokio::test]
async fn field_errors_400() {
    let mut errors = FieldErrors::new();
    errors.add(
        "title",
        FieldError::new(
            "validation_min_text_constraint",
            "Must be at least 3 character(s).",
        )
        .with_params(json!({"min": 3})),
    );
    errors.add("owner", FieldError::required());
    errors.add_nested(
        &["fields", "1", "values"],
        FieldError::new("validation_required", "Cannot be blank."),
    );
    let e = ApiError::validation("Failed to create record.", errors);
    insta::assert_snapshot!("400_field_errors", render(e).await);
}

#[tokio::test]
async fn bad_request_400_without_a_field() {
    let e = ApiError::bad_request("Something went wrong while processing your request.");
    insta::assert_snapshot!("400_bad_request", render(e).await);
}

#[tokio::test]
async fn query_too_expensive_400() {
    let e = ApiError::TooExpensive { budget_ms: 20_000 };
    insta::assert_snapshot!("400_query_too_expensive", render(e).await);
}

#[tokio::test]
async fn unauthorized_401() {
    let e = ApiError::Unauthorized(MSG_AUTH_REQUIRED.into());
    insta::assert_snapshot!("401_unauthorized", render(e).await);
}

#[tokio::test]
async fn forbidden_403() {
    let e = ApiError::Forbidden(MSG_SUPERUSERS_ONLY.into());
    insta::assert_snapshot!("403_forbidden", render(e).await);
}

#[tokio::test]
async fn not_found_404() {
    insta::assert_snapshot!("404_not_found", render(ApiError::not_found()).await);
}

#[tokio::test]
async fn payload_too_large_413() {
    let e = ApiError::PayloadTooLarge { limit: 1_048_576 };
    insta::assert_snapshot!("413_payload_too_large", render(e).await);
}

#[tokio::test]
async fn too_many_requests_429_with_retry_after() {
    let e = ApiError::TooManyRequests {
        retry_after_secs: 7,
    };
    insta::assert_snapshot!("429_too_many_requests", render(e).await);
}

#[tokio::test]
async fn unavailable_503_while_shutting_down() {
    insta::assert_snapshot!("503_unavailable", render(ApiError::Unavailable).await);
}

#[tokio::test]
async fn overloaded_503_with_retry_after() {
    let e = ApiError::Overloaded {
        retry_after_secs: 3,
    };
    insta::assert_snapshot!("503_overloaded", render(e).await);
}

#[tokio::test]
async fn bad_gateway_502_when_a_plugin_hook_fails() {
    let e = ApiError::BadGateway(
        "The plugin hook slugify/before_create failed: timed out after 2s.".into(),
    );
    insta::assert_snapshot!("502_bad_gateway", render(e).await);
}

#[tokio::test]
async fn internal_500_hides_the_detail() {
    let e = ApiError::internal("sled exploded at /secret/path");
    insta::assert_snapshot!("500_internal", render(e).await);
}
