//! Where a token, key or secret may be sent: https anywhere, or plain http to a loopback address.
//! The client, the credentials and the ledger check every URL they send one to with this rule.

use url::Url;

use super::error::ClientError;

/// Refuses a URL a token or key would go to unless it is https, or http to loopback.
pub(super) fn require_token_url(setting: &'static str, url: &Url) -> Result<(), ClientError> {
    if url.cannot_be_a_base() || !matches!(url.scheme(), "https" | "http") {
        return Err(ClientError::InvalidSetting {
            setting,
            problem: "not an http(s) URL",
        });
    }
    if is_token_safe(url) {
        Ok(())
    } else {
        Err(ClientError::InsecureUrl { setting })
    }
}

/// Whether a token, key or secret may be sent to `url`: https anywhere, or plain http to a
/// loopback address only (`localhost`, `127.0.0.0/8` or `[::1]`). The settings layer checks its
/// URLs with the same rule.
pub fn is_token_safe(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

/// `localhost`, `127.0.0.0/8` or `[::1]`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_carries_tokens() {
        for (url, safe) in [
            ("https://management.azure.com", true),
            ("http://127.0.0.1:8080", true),
            ("http://localhost/x", true),
            ("http://[::1]:1", true),
            ("http://management.azure.com", false),
            ("http://10.0.0.1", false),
            ("ftp://127.0.0.1", false),
        ] {
            assert_eq!(is_token_safe(&Url::parse(url).unwrap()), safe, "{url}");
        }
    }
}
