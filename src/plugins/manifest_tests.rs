use super::*;
use std::path::Path;

fn vars() -> Vars {
    Vars {
        port: 4321,
        url: "http://127.0.0.1:8090".into(),
        secret: "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        token: None,
    }
}

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(
        text,
        Path::new("plugins/x/plugin.toml"),
        Path::new("plugins/x"),
        &vars(),
    )
}

/// The error's text, which must name the file.
fn error(text: &str) -> String {
    let e = parse(text).expect_err("manifest should be refused");
    let msg = e.to_string();
    assert!(msg.starts_with("plugins/x/plugin.toml: "), "{msg}");
    msg
}

const FULL: &str = r#"
[plugin]
name = "slugify"
description = "Fills slug"
[sidecar]
command = ["python3", "server.py"]
env = { PORT = "{port}", FERROBASE_URL = "{url}", FERROBASE_TOKEN = "{token}", WEBHOOK_SECRET = "{secret}" }
[[hooks]]
event = "before_create"
collections = ["posts"]
url = "http://127.0.0.1:{port}/hook"
timeout = "500ms"
on_error = "allow"
[[hooks]]
event = "before_delete"
url = "{url}/x"
[[webhooks]]
url = "http://127.0.0.1:{port}/events"
collections = ["posts"]
actions = ["create", "delete"]
headers = { X-Plugin = "p{port}" }
"#;

#[test]
fn a_full_manifest_parses_with_placeholders_substituted() {
    let m = parse(FULL).expect("valid manifest");
    assert_eq!(m.name, "slugify");
    assert_eq!(m.description, "Fills slug");
    assert_eq!(m.dir, Path::new("plugins/x"));
    let sidecar = m.sidecar.expect("sidecar");
    assert_eq!(sidecar.command, ["python3", "server.py"]);
    // The sidecar keeps its placeholders until start ({token} is minted then).
    assert_eq!(sidecar.env["PORT"], "{port}");
    assert!(sidecar.uses("{token}") && sidecar.uses("{port}"));
    assert_eq!(m.hooks.len(), 2);
    assert_eq!(m.hooks[0].event, HookEvent::BeforeCreate);
    assert_eq!(m.hooks[0].collections, ["posts"]);
    assert_eq!(m.hooks[0].url, "http://127.0.0.1:4321/hook");
    assert_eq!(m.hooks[0].timeout, Duration::from_millis(500));
    assert_eq!(m.hooks[0].on_error, OnError::Allow);
    // Defaults: all collections, 2s, reject.
    assert_eq!(m.hooks[1].event, HookEvent::BeforeDelete);
    assert!(m.hooks[1].collections.is_empty());
    assert_eq!(m.hooks[1].url, "http://127.0.0.1:8090/x");
    assert_eq!(m.hooks[1].timeout, DEFAULT_HOOK_TIMEOUT);
    assert_eq!(m.hooks[1].on_error, OnError::Reject);
    let w = &m.webhooks[0];
    assert_eq!(
        (w.plugin.as_str(), w.index, w.name.as_str()),
        ("slugify", 0, "slugify/0")
    );
    assert_eq!(w.url, "http://127.0.0.1:4321/events");
    assert_eq!(w.actions, ["create", "delete"]);
    assert_eq!(w.headers["X-Plugin"], "p4321");
    assert_eq!(w.timeout, 10);
    assert_eq!(w.secret, vars().secret);
    assert!(w.enabled);
}

#[test]
fn a_minimal_manifest_needs_only_a_name() {
    let m = parse("[plugin]\nname = \"a-b_1\"\n").expect("valid");
    assert!(m.sidecar.is_none() && m.hooks.is_empty() && m.webhooks.is_empty());
}

#[test]
fn syntax_and_unknown_keys_are_reported_with_their_location() {
    let msg = error("[plugin\nname = 1");
    assert!(msg.contains("line 1"), "{msg}");
    let msg =
        error("[plugin]\nname = \"a\"\n[[hooks]]\nevnt = \"before_create\"\nurl = \"http://x\"\n");
    assert!(msg.contains("evnt"), "{msg}");
    let msg = error("[sidecar]\ncommand = [\"x\"]\n");
    assert!(msg.contains("plugin"), "{msg}");
}

#[test]
fn semantic_errors_name_the_key() {
    let cases = [
        ("[plugin]\nname = \"Bad Name\"", "plugin.name"),
        ("[plugin]\nname = \"a\"\n[sidecar]\ncommand = []", "sidecar.command"),
        (
            "[plugin]\nname = \"a\"\n[sidecar]\ncommand = [\"x\"]\nenv = { \"A=B\" = \"1\" }",
            "sidecar.env.A=B",
        ),
        (
            "[plugin]\nname = \"a\"\n[[hooks]]\nevent = \"before_save\"\nurl = \"http://x\"",
            "hooks[0].event",
        ),
        (
            "[plugin]\nname = \"a\"\n[[hooks]]\nevent = \"before_create\"\nurl = \"ftp://x\"",
            "hooks[0].url",
        ),
        (
            "[plugin]\nname = \"a\"\n[[hooks]]\nevent = \"before_create\"\nurl = \"http://x/{token}\"",
            "hooks[0].url",
        ),
        (
            "[plugin]\nname = \"a\"\n[[hooks]]\nevent = \"before_create\"\nurl = \"http://x\"\ntimeout = \"2\"",
            "hooks[0].timeout",
        ),
        (
            "[plugin]\nname = \"a\"\n[[hooks]]\nevent = \"before_create\"\nurl = \"http://x\"\ntimeout = \"5m\"",
            "hooks[0].timeout",
        ),
        (
            "[plugin]\nname = \"a\"\n[[hooks]]\nevent = \"before_create\"\nurl = \"http://x\"\non_error = \"ignore\"",
            "hooks[0].on_error",
        ),
        (
            "[plugin]\nname = \"a\"\n[[hooks]]\nevent = \"before_create\"\nurl = \"http://x\"\ncollections = [\"\"]",
            "hooks[0].collections[0]",
        ),
        (
            "[plugin]\nname = \"a\"\n[[webhooks]]\nurl = \"http://x\"\nactions = [\"create\", \"upsert\"]",
            "webhooks[0].actions[1]",
        ),
        (
            "[plugin]\nname = \"a\"\n[[webhooks]]\nurl = \"http://x\"\ntimeout = 0",
            "webhooks[0].timeout",
        ),
        (
            "[plugin]\nname = \"a\"\n[[webhooks]]\nurl = \"http://x\"\nsecret = \"whsec_c2hvcnQ=\"",
            "webhooks[0].secret",
        ),
        (
            "[plugin]\nname = \"a\"\n[[webhooks]]\nurl = \"http://x\"\nheaders = { \"Bad Header\" = \"1\" }",
            "webhooks[0].headers.Bad Header",
        ),
        (
            "[plugin]\nname = \"a\"\n[[webhooks]]\nurl = \"not a url\"",
            "webhooks[0].url",
        ),
    ];
    for (text, key) in cases {
        let e = parse(text).expect_err(key);
        assert_eq!(e.key, key, "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("plugins/x/plugin.toml: {key}: ")),
            "{e}"
        );
    }
}

#[test]
fn a_webhook_may_name_its_own_secret_or_the_plugins() {
    let own = "whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIz";
    let m = parse(&format!(
        "[plugin]\nname = \"a\"\n[[webhooks]]\nname = \"n\"\nurl = \"http://x\"\nsecret = \"{own}\"\n[[webhooks]]\nurl = \"http://y\"\nsecret = \"{{secret}}\"\nenabled = false"
    ))
    .expect("valid");
    assert_eq!(m.webhooks[0].secret, own);
    assert_eq!(m.webhooks[0].name, "n");
    assert_eq!(m.webhooks[1].secret, vars().secret);
    assert_eq!(m.webhooks[1].name, "a/1");
    assert!(!m.webhooks[1].enabled);
}

#[test]
fn durations_parse_and_print() {
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration(" 2s "), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
    for bad in ["", "2", "s", "1.5s", "-1s", "2h", "2 s"] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
    assert_eq!(format_duration(Duration::from_secs(2)), "2s");
    assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
}
