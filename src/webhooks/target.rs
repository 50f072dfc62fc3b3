//! Where a webhook may send: the SSRF guard, applied when a webhook is saved and again on every
//! attempt after DNS resolution (the HTTP client resolves through [`GuardedResolver`], so a name
//! that later points somewhere forbidden is refused at connect time, not just at save time).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The setting that lets webhooks reach loopback and private networks.
pub const ALLOW_PRIVATE_SETTING: &str =
    "[webhooks] allow_private_targets = true (env FERROBASE_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true)";

/// Why an address may not be a webhook target, or `None` if it may.
pub fn refusal(ip: IpAddr, allow_private: bool) -> Option<String> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if always_refused(ip) {
        return Some(format!(
            "{ip} is a link-local, metadata or otherwise reserved address; webhooks never send there."
        ));
    }
    if !allow_private && private(ip) {
        return Some(format!(
            "{ip} is a loopback or private address; allow it with {ALLOW_PRIVATE_SETTING}."
        ));
    }
    None
}

fn always_refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_link_local() // 169.254/16, cloud metadata
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0 // "this network"
                || o[0] >= 240 // reserved
                || (o[0] == 100 && o[1] == 100 && o[2] == 100 && o[3] == 200) // Alibaba metadata
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) // AWS metadata
        }
    }
}

fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // fc00::/7 unique-local
                || (v6.segments()[0] & 0xffc0) == 0xfec0 // deprecated site-local
        }
    }
}

/// Checks a URL's shape and, when its host is an IP literal, the address itself. Names are
/// checked by [`resolve_checked`] (on save) and by the resolver (on every attempt).
pub fn check_url(raw: &str, allow_private: bool) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("Invalid URL: {e}."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("The URL must use http or https.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Put credentials in headers, not in the URL.".into());
    }
    match url.host() {
        None => Err("The URL needs a host.".into()),
        Some(url::Host::Ipv4(ip)) => {
            refusal(IpAddr::V4(ip), allow_private).map_or(Ok(url.clone()), Err)
        }
        Some(url::Host::Ipv6(ip)) => {
            refusal(IpAddr::V6(ip), allow_private).map_or(Ok(url.clone()), Err)
        }
        Some(url::Host::Domain(_)) => Ok(url.clone()),
    }
}

/// Resolves the URL's host now and refuses it if any address is forbidden (on save).
pub async fn resolve_checked(url: &reqwest::Url, allow_private: bool) -> Result<(), String> {
    let Some(url::Host::Domain(host)) = url.host() else {
        return Ok(()); // IP literals were checked by `check_url`
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("Cannot resolve {host}: {e}."))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no addresses."));
    }
    for a in &addrs {
        if let Some(why) = refusal(a.ip(), allow_private) {
            return Err(format!("{host} resolves to {why}"));
        }
    }
    Ok(())
}

/// The HTTP client's resolver: system DNS, then every address checked; a name with any
/// forbidden address fails to resolve (no partial use: DNS rebinding gets nothing).
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for a in &addrs {
                if let Some(why) = refusal(a.ip(), allow_private) {
                    let e: Box<dyn std::error::Error + Send + Sync> =
                        format!("refused target {host}: {why}").into();
                    return Err(e);
                }
            }
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// The one HTTP client of the dispatcher: no redirects, no proxy from the environment, the
/// guarded resolver, connection reuse per endpoint.
pub fn client(allow_private: bool) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .user_agent(concat!("Ferrobase-Webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(8)
        .build()
        .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse::<Ipv4Addr>().expect("ip"))
    }

    #[test]
    fn metadata_and_link_local_are_always_refused() {
        for ip in ["169.254.169.254", "0.0.0.0", "255.255.255.255", "224.0.0.1"] {
            assert!(refusal(v4(ip), true).is_some(), "{ip}");
        }
        for ip in ["fe80::1", "::", "fd00:ec2::254", "::ffff:169.254.169.254"] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(refusal(ip, true).is_some(), "{ip}");
        }
    }

    #[test]
    fn private_targets_need_the_setting_and_the_error_names_it() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "100.64.0.1",
        ] {
            let why = refusal(v4(ip), false).expect("refused");
            assert!(why.contains("allow_private_targets"), "{why}");
            assert!(refusal(v4(ip), true).is_none(), "{ip}");
        }
        for ip in ["::1", "fd12::1", "::ffff:127.0.0.1"] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(refusal(ip, false).is_some(), "{ip}");
            assert!(refusal(ip, true).is_none(), "{ip}");
        }
        assert!(refusal(v4("93.184.216.34"), false).is_none());
    }

    #[test]
    fn urls_are_checked_for_shape_and_literal_addresses() {
        assert!(check_url("ftp://example.com/", false).is_err());
        assert!(check_url("http://user:pw@example.com/", false).is_err());
        assert!(check_url("not a url", false).is_err());
        assert!(check_url("http://169.254.169.254/latest", true).is_err());
        assert!(check_url("http://[fe80::1]/", true).is_err());
        assert!(check_url("http://127.0.0.1:9/", false)
            .unwrap_err()
            .contains("allow_private_targets"));
        assert!(check_url("http://127.0.0.1:9/", true).is_ok());
        assert!(check_url("https://example.com/hook", false).is_ok());
    }
}
