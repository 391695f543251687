//! The WebSocket URI a client connects to (RFC 6455 §3):
//! `ws://host[:port][/path][?query]` or `wss://…`.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

use super::origin::{is_reg_name_byte, parse_port};

/// A parsed `ws://` or `wss://` URI: where to connect and what to ask for.
///
/// `wss` only changes the default port and [`is_secure`](Self::is_secure): running TLS is the
/// driver's business.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    secure: bool,
    host: String,
    port: u16,
    path: String,
    query: Option<String>,
}

impl Target {
    /// Parses a WebSocket URI.
    ///
    /// The scheme (case-insensitive) must be `ws` or `wss`; the host must be non-empty (an IPv6
    /// literal in brackets, `[::1]`, is accepted); an explicit port must be 1 to 65535. User
    /// information (`user@`) and fragments (`#…`) are refused (§3). The path and query must be
    /// printable ASCII without spaces (percent-encode anything else); an empty path is `/`.
    pub fn parse(uri: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = uri.split_once("://").ok_or(UrlError::NotAbsolute)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(UrlError::UnsupportedScheme { scheme: scheme.to_string() });
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (inner, after) = v6.split_once(']').ok_or(UrlError::InvalidHost)?;
            if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
                return Err(UrlError::InvalidHost);
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(UrlError::InvalidHost)?),
            };
            (inner, port)
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            if host.is_empty() {
                return Err(UrlError::EmptyHost);
            }
            if !host.bytes().all(is_reg_name_byte) {
                return Err(UrlError::InvalidHost);
            }
            (host, port)
        };
        let port = match port {
            None if secure => 443,
            None => 80,
            Some(p) => parse_port(p).ok_or_else(|| UrlError::InvalidPort { port: p.to_string() })?,
        };
        if !resource.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UrlError::InvalidResource);
        }
        let (path, query) = match resource.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (resource, None),
        };
        let path = if path.is_empty() { "/".to_string() } else { path.to_string() };
        Ok(Target { secure, host: host.to_string(), port, path, query })
    }

    /// Whether the scheme is `wss` (the driver must run TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host to connect to, without brackets for IPv6 literals (`::1`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to (80 or 443 when not given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The request target sent in the request line: path and `?query`.
    pub fn resource(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The value of the `Host` header field: the host (IPv6 literals in brackets), with `:port`
    /// only when the port is not the scheme's default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }
}

/// Why a WebSocket URI was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// There is no `scheme://`.
    NotAbsolute,
    /// The scheme is not `ws` or `wss`.
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
    },
    /// The host is empty.
    EmptyHost,
    /// The host contains characters a host name cannot, or an IPv6 literal is malformed.
    InvalidHost,
    /// The port is not a number from 1 to 65535.
    InvalidPort {
        /// The port given.
        port: String,
    },
    /// The URI has user information (`user@host`).
    UserInfo,
    /// The URI has a fragment (`#…`), which WebSocket URIs must not have.
    Fragment,
    /// The path or query contains spaces, control characters or non-ASCII text.
    InvalidResource,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::NotAbsolute => f.write_str("not an absolute ws:// or wss:// URI"),
            UrlError::UnsupportedScheme { scheme } => write!(f, "scheme {scheme:?} is not ws or wss"),
            UrlError::EmptyHost => f.write_str("the URI has no host"),
            UrlError::InvalidHost => f.write_str("the host of the URI is not valid"),
            UrlError::InvalidPort { port } => write!(f, "port {port:?} is not a number from 1 to 65535"),
            UrlError::UserInfo => f.write_str("WebSocket URIs cannot carry user information"),
            UrlError::Fragment => f.write_str("WebSocket URIs cannot have a fragment"),
            UrlError::InvalidResource => {
                f.write_str("the path or query contains characters that must be percent-encoded")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UrlError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        // uri, secure, host, port, resource, Host header
        let cases = [
            ("ws://example.com", false, "example.com", 80, "/", "example.com"),
            ("WS://Example.com/chat", false, "Example.com", 80, "/chat", "Example.com"),
            ("wss://example.com/a?b=c", true, "example.com", 443, "/a?b=c", "example.com"),
            ("ws://example.com:80/", false, "example.com", 80, "/", "example.com"),
            ("ws://example.com:443/", false, "example.com", 443, "/", "example.com:443"),
            ("wss://example.com:8443", true, "example.com", 8443, "/", "example.com:8443"),
            ("ws://example.com?x", false, "example.com", 80, "/?x", "example.com"),
            ("ws://[::1]:9001/p", false, "::1", 9001, "/p", "[::1]:9001"),
            ("wss://[::1]", true, "::1", 443, "/", "[::1]"),
            ("ws://127.0.0.1:1", false, "127.0.0.1", 1, "/", "127.0.0.1:1"),
        ];
        for (uri, secure, host, port, resource, host_header) in cases {
            let t = Target::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(t.is_secure(), secure, "{uri}");
            assert_eq!(t.host(), host, "{uri}");
            assert_eq!(t.port(), port, "{uri}");
            assert_eq!(t.resource(), resource, "{uri}");
            assert_eq!(t.host_header(), host_header, "{uri}");
        }
    }

    #[test]
    fn rejected() {
        let cases = [
            ("example.com/chat", UrlError::NotAbsolute),
            ("http://example.com", UrlError::UnsupportedScheme { scheme: "http".into() }),
            ("ftp://example.com", UrlError::UnsupportedScheme { scheme: "ftp".into() }),
            ("ws://", UrlError::EmptyHost),
            ("ws:///path", UrlError::EmptyHost),
            ("ws://:80/", UrlError::EmptyHost),
            ("ws://example.com/#frag", UrlError::Fragment),
            ("ws://user:pw@example.com/", UrlError::UserInfo),
            ("ws://example.com:0/", UrlError::InvalidPort { port: "0".into() }),
            ("ws://example.com:65536/", UrlError::InvalidPort { port: "65536".into() }),
            ("ws://example.com:/", UrlError::InvalidPort { port: "".into() }),
            ("ws://example.com:8a/", UrlError::InvalidPort { port: "8a".into() }),
            ("ws://[::1/", UrlError::InvalidHost),
            ("ws://[]/", UrlError::InvalidHost),
            ("ws://[::1]x/", UrlError::InvalidHost),
            ("ws://[zz::1]/", UrlError::InvalidHost),
            ("ws://exa mple.com/", UrlError::InvalidHost),
            ("ws://example.com/a b", UrlError::InvalidResource),
            ("ws://example.com/\u{e9}", UrlError::InvalidResource),
            ("ws://example.com/a\r\nX: y", UrlError::InvalidResource),
        ];
        for (uri, expected) in cases {
            let err = Target::parse(uri).unwrap_err();
            assert_eq!(err, expected, "{uri}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn path_and_query_are_split_at_the_first_question_mark() {
        // RFC 3986 §3.4: the query is everything after the first "?"; it may hold more.
        let cases = [
            ("ws://h", "/", None, "/"),
            ("ws://h/", "/", None, "/"),
            ("ws://h/chat/room", "/chat/room", None, "/chat/room"),
            ("ws://h?", "/", Some(""), "/?"),
            ("ws://h/p?a=1&b=2", "/p", Some("a=1&b=2"), "/p?a=1&b=2"),
            ("ws://h/p?a?b/c", "/p", Some("a?b/c"), "/p?a?b/c"),
            ("ws://h/%20x", "/%20x", None, "/%20x"),
        ];
        for (uri, path, query, resource) in cases {
            let t = Target::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(t.path(), path, "{uri}");
            assert_eq!(t.query(), query, "{uri}");
            assert_eq!(t.resource(), resource, "{uri}");
        }
    }

    #[test]
    fn ports_and_the_host_header() {
        // RFC 6455 §3: the default port is 80 for ws and 443 for wss; §4.1: Host carries the
        // port only when it is not the default.
        let t = Target::parse("ws://h:65535").unwrap();
        assert_eq!((t.port(), t.host_header().as_str()), (65535, "h:65535"));
        let t = Target::parse("wss://h:80/").unwrap();
        assert!(t.is_secure());
        assert_eq!((t.port(), t.host_header().as_str()), (80, "h:80"));
        let t = Target::parse("wss://h:443/").unwrap();
        assert_eq!((t.port(), t.host_header().as_str()), (443, "h"));
        let t = Target::parse("WsS://h").unwrap();
        assert!(t.is_secure());
        assert_eq!(t.port(), 443);
        let t = Target::parse("ws://h:00080").unwrap();
        assert_eq!((t.port(), t.host_header().as_str()), (80, "h"));
        assert_eq!(Target::parse("ws://[::1]:/"), Err(UrlError::InvalidPort { port: "".into() }));
        assert_eq!(Target::parse("ws://[::1]:99999"), Err(UrlError::InvalidPort { port: "99999".into() }));
    }

    #[test]
    fn ip_literals() {
        // RFC 3986 §3.2.2: IPv6 (with an embedded IPv4 address too) in brackets, IPv4 as is.
        let t = Target::parse("ws://[::ffff:192.0.2.1]:8080/").unwrap();
        assert_eq!(t.host(), "::ffff:192.0.2.1");
        assert_eq!(t.host_header(), "[::ffff:192.0.2.1]:8080");
        let t = Target::parse("ws://[2001:DB8::1]").unwrap();
        assert_eq!(t.host(), "2001:DB8::1");
        assert_eq!(t.host_header(), "[2001:DB8::1]");
        let t = Target::parse("ws://192.0.2.1").unwrap();
        assert_eq!((t.host(), t.host_header().as_str()), ("192.0.2.1", "192.0.2.1"));
        for uri in ["ws://[::1%25eth0]/", "ws://[::g]/", "ws://[:: 1]/", "ws://[::1]]/"] {
            assert_eq!(Target::parse(uri), Err(UrlError::InvalidHost), "{uri}");
        }
    }

    #[test]
    fn host_names_take_reg_name_bytes_only() {
        let t = Target::parse("ws://my-host_1.example~x/").unwrap();
        assert_eq!(t.host(), "my-host_1.example~x");
        for uri in ["ws://a<b/", "ws://a\"b/", "ws://h\u{e9}/", "ws://a\\b/", "ws://a[b/"] {
            assert_eq!(Target::parse(uri), Err(UrlError::InvalidHost), "{uri}");
        }
    }

    #[test]
    fn errors_display_what_was_wrong() {
        let cases = [
            (UrlError::NotAbsolute, "not an absolute ws:// or wss:// URI"),
            (UrlError::UnsupportedScheme { scheme: "http".into() }, "scheme \"http\" is not ws or wss"),
            (UrlError::EmptyHost, "the URI has no host"),
            (UrlError::InvalidHost, "the host of the URI is not valid"),
            (UrlError::InvalidPort { port: "0".into() }, "port \"0\" is not a number from 1 to 65535"),
            (UrlError::UserInfo, "WebSocket URIs cannot carry user information"),
            (UrlError::Fragment, "WebSocket URIs cannot have a fragment"),
            (UrlError::InvalidResource, "the path or query contains characters that must be percent-encoded"),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }
}
