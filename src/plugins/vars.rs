//! Manifest placeholders: `{port}` (a free 127.0.0.1 port chosen per plugin at start), `{url}`
//! (the server's base URL), `{secret}` (a per-plugin `whsec_…` webhook signing secret) and
//! `{token}` (a superuser token valid while the plugin runs; sidecar `command`/`env` only).

use base64::Engine;
use rand::RngCore;
use std::net::TcpListener;

/// The values placeholders stand for, for one plugin.
#[derive(Debug, Clone)]
pub struct Vars {
    pub port: u16,
    pub url: String,
    pub secret: String,
    /// Minted at start, and only for plugins that use `{token}`.
    pub token: Option<String>,
}

/// The placeholder only the sidecar may use (URLs end up in logs and listings).
pub const TOKEN: &str = "{token}";

impl Vars {
    /// `text` with every known placeholder replaced (`{token}` only once it is minted);
    /// other braces are left alone, so JSON in an env value survives.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text
            .replace("{port}", &self.port.to_string())
            .replace("{url}", &self.url)
            .replace("{secret}", &self.secret);
        if let Some(token) = &self.token {
            out = out.replace(TOKEN, token);
        }
        out
    }
}

/// A webhook signing secret: `whsec_` + base64 of 24 random bytes (Standard Webhooks).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A port on 127.0.0.1 that was free a moment ago (the sidecar binds it right after).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `http://<listen address>`, with a wildcard host (`0.0.0.0`, `[::]`) replaced by loopback so a
/// sidecar on this machine can connect to it.
pub fn base_url(http: &str) -> String {
    let local = if let Some(port) = http.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = http.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        http.to_string()
    };
    format!("http://{local}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(token: Option<&str>) -> Vars {
        Vars {
            port: 4321,
            url: "http://127.0.0.1:8090".into(),
            secret: "whsec_abc".into(),
            token: token.map(String::from),
        }
    }

    #[test]
    fn placeholders_are_replaced_everywhere_they_occur() {
        let v = vars(Some("tok"));
        assert_eq!(
            v.apply("http://127.0.0.1:{port}/hook?p={port}"),
            "http://127.0.0.1:4321/hook?p=4321"
        );
        assert_eq!(v.apply("{url}/api/"), "http://127.0.0.1:8090/api/");
        assert_eq!(v.apply("{secret}"), "whsec_abc");
        assert_eq!(v.apply("Bearer {token}"), "Bearer tok");
        assert_eq!(v.apply(r#"{"a":{port}}"#), r#"{"a":4321}"#);
        assert_eq!(v.apply("{unknown} {PORT}"), "{unknown} {PORT}");
    }

    #[test]
    fn token_stays_until_minted() {
        assert_eq!(vars(None).apply("{token}"), "{token}");
    }

    #[test]
    fn secrets_are_whsec_base64_of_24_bytes_and_differ() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        let raw = a.strip_prefix("whsec_").expect("prefix");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .expect("base64");
        assert_eq!(bytes.len(), 24);
    }

    #[test]
    fn base_url_uses_loopback_for_wildcards() {
        assert_eq!(base_url("127.0.0.1:8090"), "http://127.0.0.1:8090");
        assert_eq!(base_url("0.0.0.0:80"), "http://127.0.0.1:80");
        assert_eq!(base_url("[::]:80"), "http://[::1]:80");
        assert_eq!(base_url("example.com:8090"), "http://example.com:8090");
    }

    #[test]
    fn free_ports_are_nonzero() {
        assert_ne!(free_port().expect("port"), 0);
    }
}
