//! Which `Origin`s a server accepts (RFC 6455 §4.2.2 step 4, §10.2).
//!
//! Browsers send `Origin` with every WebSocket handshake and, unlike ordinary requests, do not
//! stop a page on one site from opening a WebSocket to another. A server that relies on cookies
//! or other ambient credentials must therefore check the origin itself, or any web page the user
//! visits can talk to it with the user's credentials ("cross-site WebSocket hijacking"). Requests
//! without `Origin` come from non-browser clients and are accepted under every policy.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

/// The origin check a [`ServerHandshake`](super::ServerHandshake) applies to requests that carry
/// an `Origin` header field. Refused requests are answered with `403 Forbidden`.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum OriginPolicy {
    /// Accept an origin only when its host and port equal those of the `Host` header field (the
    /// default). Host names compare case-insensitively; a missing port stands for the default
    /// port of the origin's scheme (80 for `http`/`ws`, 443 for `https`/`wss`). The opaque origin
    /// `null` (sandboxed frames, `file:` pages) is refused.
    #[default]
    SameHost,
    /// Accept exactly these origins, each written `scheme://host[:port]` as browsers serialise
    /// them (compared case-insensitively, with no normalisation of ports).
    AllowList(Vec<String>),
    /// Accept every origin. This disables the protection against cross-site WebSocket hijacking:
    /// choose it only for servers that do not rely on cookies or other ambient credentials.
    Any,
    /// Accept the origins for which the predicate returns `true`. It receives the `Origin` value
    /// with surrounding whitespace removed.
    Custom(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl OriginPolicy {
    /// Whether a request with `Origin: origin` and `Host: host` is accepted.
    pub fn allows(&self, origin: &str, host: &str) -> bool {
        match self {
            OriginPolicy::SameHost => same_host(origin, host),
            OriginPolicy::AllowList(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
            OriginPolicy::Any => true,
            OriginPolicy::Custom(f) => f(origin),
        }
    }
}

impl fmt::Debug for OriginPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPolicy::SameHost => f.write_str("SameHost"),
            OriginPolicy::AllowList(list) => f.debug_tuple("AllowList").field(list).finish(),
            OriginPolicy::Any => f.write_str("Any"),
            OriginPolicy::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

fn same_host(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else { return false };
    if authority.contains(['/', '?', '#', '@']) {
        return false;
    }
    let (Some(o), Some(h)) = (split_authority(authority), split_authority(host)) else { return false };
    let default = default_port(scheme);
    o.0.eq_ignore_ascii_case(h.0) && o.1.or(default) == h.1.or(default)
}

/// The default port of a scheme that has one.
fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss") {
        Some(443)
    } else {
        None
    }
}

/// Splits `host[:port]` (or `[v6]:port`) into the host, brackets included, and the port. `None`
/// if the syntax is wrong.
pub(crate) fn split_authority(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']')?;
        let (host, rest) = s.split_at(close + 1);
        let inner = &host[1..host.len() - 1];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return None;
        }
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    if host.is_empty() || !(host.starts_with('[') || host.bytes().all(is_reg_name_byte)) {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Some((host, port))
}

/// A TCP port: one to five digits, 1..=65535.
pub(crate) fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n != 0)
}

/// Bytes allowed in a host name or IPv4 address: RFC 3986 `reg-name` (unreserved, sub-delims,
/// pct-encoded).
pub(crate) fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn same_host_rules() {
        let cases = [
            ("http://example.com", "example.com", true),
            ("https://EXAMPLE.com", "example.COM", true),
            ("https://example.com", "example.com:443", true),
            ("https://example.com:443", "example.com", true),
            ("http://example.com:80", "example.com", true),
            ("http://example.com:8080", "example.com:8080", true),
            ("http://[::1]:9001", "[::1]:9001", true),
            ("http://example.com", "example.com:443", false),
            ("https://example.com", "example.com:80", false),
            ("http://example.com:8080", "example.com", false),
            ("http://evil.com", "example.com", false),
            ("http://example.com.evil.com", "example.com", false),
            ("null", "example.com", false),
            ("example.com", "example.com", false),
            ("http://example.com/", "example.com", false),
            ("http://user@example.com", "example.com", false),
            ("http://example.com:0", "example.com", false),
            ("http://example.com:99999", "example.com:99999", false),
            ("chrome-extension://abc", "abc", true),
            ("chrome-extension://abc", "abc:80", false),
        ];
        for (origin, host, ok) in cases {
            assert_eq!(OriginPolicy::SameHost.allows(origin, host), ok, "{origin} vs {host}");
        }
    }

    #[test]
    fn allow_list_any_custom() {
        let list = OriginPolicy::AllowList(vec!["https://app.example".into(), "null".into()]);
        assert!(list.allows("HTTPS://App.Example", "whatever"));
        assert!(list.allows("null", "whatever"));
        assert!(!list.allows("https://app.example:8443", "whatever"));
        assert!(OriginPolicy::Any.allows("null", "x"));
        let custom = OriginPolicy::Custom(Arc::new(|o: &str| o.ends_with(".trusted")));
        assert!(custom.allows("https://a.trusted", "x"));
        assert!(!custom.allows("https://a.untrusted", "x"));
        assert_eq!(alloc::format!("{custom:?}"), "Custom(..)");
    }

    #[test]
    fn authority_syntax() {
        assert_eq!(split_authority("a.b:81"), Some(("a.b", Some(81))));
        assert_eq!(split_authority("[::1]"), Some(("[::1]", None)));
        assert_eq!(split_authority("[::1]:1"), Some(("[::1]", Some(1))));
        assert_eq!(split_authority(""), None);
        assert_eq!(split_authority(":80"), None);
        assert_eq!(split_authority("a:"), None);
        assert_eq!(split_authority("a:b"), None);
        assert_eq!(split_authority("a b"), None);
        assert_eq!(split_authority("[::1"), None);
        assert_eq!(split_authority("[::1]x"), None);
        assert_eq!(split_authority("[]"), None);
        assert_eq!(split_authority("a:1:2"), None);
        assert_eq!(split_authority("a]"), None);
    }

    #[test]
    fn ip_literals_hold_hex_digits_colons_and_dots_only() {
        // RFC 3986 §3.2.2: an IPv6 address in brackets, its last 32 bits possibly in dotted form.
        assert_eq!(split_authority("[::ffff:192.0.2.1]"), Some(("[::ffff:192.0.2.1]", None)));
        assert_eq!(split_authority("[2001:DB8::a]:443"), Some(("[2001:DB8::a]", Some(443))));
        for bad in ["[::g]", "[::1 ]", "[::1%25eth0]", "[::1/64]", "[::1]]"] {
            assert_eq!(split_authority(bad), None, "{bad}");
        }
        assert!(OriginPolicy::SameHost.allows("https://[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]:443"));
        assert!(!OriginPolicy::SameHost.allows("https://[::ffff:192.0.2.1]", "[::ffff:192.0.2.2]"));
    }

    #[test]
    fn ports_are_one_to_five_digits_from_1_to_65535() {
        assert_eq!(parse_port("1"), Some(1));
        assert_eq!(parse_port("80"), Some(80));
        assert_eq!(parse_port("65535"), Some(65535));
        // RFC 3986 §3.2.3: `port = *DIGIT`, so leading zeros are digits like any other.
        assert_eq!(parse_port("00080"), Some(80));
        assert_eq!(parse_port("08080"), Some(8080));
        assert_eq!(parse_port("000080"), None, "six digits");
        assert_eq!(parse_port("0"), None);
        assert_eq!(parse_port("00000"), None);
        assert_eq!(parse_port("65536"), None);
        assert_eq!(parse_port("99999"), None);
        assert_eq!(parse_port(""), None);
        for p in ["+80", "-1", " 80", "80 ", "8_0", "0x50", "\u{663}"] {
            assert_eq!(parse_port(p), None, "{p:?}");
        }
    }

    #[test]
    fn host_names_are_made_of_reg_name_bytes() {
        // RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ), with
        // unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" and
        // sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "=".
        let allowed = |b: u8| {
            b.is_ascii_alphabetic()
                || b.is_ascii_digit()
                || b"-._~".contains(&b)
                || b"!$&'()*+,;=".contains(&b)
                || b == b'%'
        };
        for b in 0..=255u8 {
            assert_eq!(is_reg_name_byte(b), allowed(b), "byte {b:#04x}");
        }
        // The generic delimiters, space, controls and text above ASCII are not.
        for &b in b":/?#[]@ \"<>\\^`{|}\x00\x7f\xc3" {
            assert!(!is_reg_name_byte(b), "byte {b:#04x}");
        }
    }

    #[test]
    fn default_ports_of_the_schemes() {
        for scheme in ["http", "HTTP", "ws", "Ws"] {
            assert_eq!(default_port(scheme), Some(80), "{scheme}");
        }
        for scheme in ["https", "HTTPS", "wss", "wsS"] {
            assert_eq!(default_port(scheme), Some(443), "{scheme}");
        }
        for scheme in ["ftp", "file", "chrome-extension", "", "httpss", "w"] {
            assert_eq!(default_port(scheme), None, "{scheme}");
        }
        // Through the policy: a missing port on either side is the scheme's default.
        let same = |o, h| OriginPolicy::SameHost.allows(o, h);
        assert!(same("ws://example.com", "example.com:80"));
        assert!(same("wss://example.com", "example.com:443"));
        assert!(same("WSS://example.com:443", "example.com"));
        assert!(!same("ws://example.com", "example.com:443"));
        assert!(!same("wss://example.com", "example.com:80"));
        assert!(!same("ftp://example.com", "example.com:80"));
    }

    #[test]
    fn same_host_needs_both_the_host_and_the_port() {
        let same = |o, h| OriginPolicy::SameHost.allows(o, h);
        assert!(same("http://a.example:81", "a.example:81"));
        assert!(!same("http://a.example:81", "b.example:81"), "same port, other host");
        assert!(!same("http://a.example:81", "a.example:82"), "same host, other port");
        assert!(!same("http://b.example:82", "a.example:81"), "both different");
        // Only the authority may follow the scheme.
        for origin in ["http://a.example?x", "http://a.example#x", "http://a.example/x", "http://u@a.example"] {
            assert!(!same(origin, "a.example"), "{origin}");
        }
        // A malformed Host field matches nothing.
        assert!(!same("http://a.example", "a.example:"));
        assert!(!same("http://a.example", ""));
    }

    #[test]
    fn debug_names_the_policy() {
        assert_eq!(alloc::format!("{:?}", OriginPolicy::SameHost), "SameHost");
        assert_eq!(alloc::format!("{:?}", OriginPolicy::default()), "SameHost");
        assert_eq!(alloc::format!("{:?}", OriginPolicy::Any), "Any");
        let list = OriginPolicy::AllowList(vec!["https://a.example".into()]);
        assert_eq!(alloc::format!("{list:?}"), "AllowList([\"https://a.example\"])");
        assert!(!OriginPolicy::AllowList(vec![]).allows("https://a.example", "a.example"));
    }
}
