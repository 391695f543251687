//! Server side of the opening handshake: every rule of RFC 6455 §4.2.1, accepted and rejected,
//! each case run on the whole input, byte by byte, and with trailing bytes appended.

mod common;

// One module named after the feature, so that `cargo test handshake` selects every test here.
mod handshake {
    use std::time::Duration;

    use crate::common::{Fields, MODES, Mode, add, feed, head, remove, set};
    use sansio_ws::Instant;
    use sansio_ws::connection::{Config, Event, Message};
    use sansio_ws::deflate::{DeflateConfig, DeflateParams};
    use sansio_ws::handshake::{
        Accept, AcceptError, ClientConfig, ClientHandshake, ClientHandshakeError, DEFAULT_TIMEOUT, Extension,
        ExtensionParseError, ExtensionParseErrorKind, HandshakeError, HeadLimits, OriginPolicy, Reject, Request,
        ServerConfig, ServerHandshake,
    };
    use sansio_ws::rand::SeededRandom;

    /// The client handshake of RFC 6455 §1.3 (its `Origin` differs from its `Host`).
    const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\
        \r\n";

    const RFC_RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: chat\r\n\
        \r\n";

    /// Bytes a client may pipeline after its request: a masked text frame, then something that looks
    /// like another request head, which must not be parsed.
    const TRAILING: &[u8] = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58GET / HTTP/1.1\r\n\r\n";

    fn base_fields() -> Fields {
        [
            ("Host", "example.com"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
    }

    /// A valid request with its fields edited.
    fn valid_with(edit: impl FnOnce(&mut Fields)) -> Vec<u8> {
        let mut fields = base_fields();
        edit(&mut fields);
        head("GET /chat HTTP/1.1", &fields)
    }

    fn valid_start(start: &str) -> Vec<u8> {
        head(start, &base_fields())
    }

    /// Feeds `input` (plus [`TRAILING`] in the trailing modes) and returns the outcome and the
    /// trailing bytes handed on (by the `Upgraded` of accepting the request).
    fn run(config: ServerConfig, input: &[u8], mode: Mode) -> (Result<Request, HandshakeError>, Vec<u8>) {
        let mut hs = ServerHandshake::new(config, Instant::ZERO);
        let outcome = feed(mode, input, TRAILING, |piece| hs.handle_input(piece));
        let trailing = match &outcome {
            Ok(request) => {
                assert!(hs.is_done());
                hs.accept(request, Accept::new()).expect("a plain accept").trailing().to_vec()
            }
            Err(_) => Vec::new(),
        };
        (outcome, trailing)
    }

    fn expected_trailing(mode: Mode) -> &'static [u8] {
        match mode {
            Mode::Whole | Mode::ByteByByte => b"",
            Mode::WholeWithTrailing | Mode::ByteByByteWithTrailing => TRAILING,
        }
    }

    type Check = fn(&Request);

    struct Case {
        rule: &'static str,
        input: Vec<u8>,
        config: fn() -> ServerConfig,
        expect: Result<Check, HandshakeError>,
    }

    fn default_config() -> ServerConfig {
        ServerConfig::default()
    }

    fn allow_rfc_origin() -> ServerConfig {
        ServerConfig::default().with_origin_policy(OriginPolicy::AllowList(vec!["http://example.com".into()]))
    }

    fn any_origin() -> ServerConfig {
        ServerConfig::default().with_origin_policy(OriginPolicy::Any)
    }

    fn custom_origin() -> ServerConfig {
        ServerConfig::default()
            .with_origin_policy(OriginPolicy::Custom(std::sync::Arc::new(|o: &str| o.ends_with(".trusted.example"))))
    }

    fn ok(check: Check) -> Result<Check, HandshakeError> {
        Ok(check)
    }

    fn no_check(_: &Request) {}

    fn padded_fields(total_fields: usize) -> Vec<u8> {
        valid_with(|f| {
            for i in f.len()..total_fields {
                add(f, &format!("X-Pad-{i}"), "x");
            }
        })
    }

    fn cases() -> Vec<Case> {
        let big = valid_with(|f| add(f, "X-Big", &"a".repeat(20 * 1024)));
        vec![
            // ---- accepted ----
            Case {
                rule: "RFC 6455 §1.3 example (origin allowed by list)",
                input: RFC_REQUEST.as_bytes().to_vec(),
                config: allow_rfc_origin,
                expect: ok(|r| {
                    assert_eq!(r.method(), "GET");
                    assert_eq!(r.path(), "/chat");
                    assert_eq!(r.query(), None);
                    assert_eq!(r.host(), "server.example.com");
                    assert_eq!(r.origin(), Some("http://example.com"));
                    assert_eq!(r.key(), "dGhlIHNhbXBsZSBub25jZQ==");
                    assert_eq!(r.subprotocols(), ["chat", "superchat"]);
                    assert!(r.extensions().is_empty());
                    assert_eq!(r.headers().len(), 7);
                    assert_eq!(r.header("sec-websocket-protocol"), Some("chat, superchat"));
                }),
            },
            Case {
                rule: "minimal request without Origin",
                input: valid_with(|_| {}),
                config: default_config,
                expect: ok(no_check),
            },
            Case {
                rule: "no Origin is accepted under an allow list",
                input: valid_with(|_| {}),
                config: allow_rfc_origin,
                expect: ok(|r| assert_eq!(r.origin(), None)),
            },
            Case {
                rule: "Upgrade is case-insensitive",
                input: valid_with(|f| set(f, "Upgrade", "WebSocket")),
                config: default_config,
                expect: ok(no_check),
            },
            Case {
                rule: "Upgrade is a list",
                input: valid_with(|f| set(f, "Upgrade", "h2c, websocket")),
                config: default_config,
                expect: ok(no_check),
            },
            Case {
                rule: "Upgrade across repeated fields",
                input: valid_with(|f| {
                    set(f, "Upgrade", "h2c");
                    add(f, "Upgrade", "websocket");
                }),
                config: default_config,
                expect: ok(no_check),
            },
            Case {
                rule: "Connection is a case-insensitive token list",
                input: valid_with(|f| set(f, "Connection", "keep-alive, upgrade")),
                config: default_config,
                expect: ok(no_check),
            },
            Case {
                rule: "Connection across repeated fields",
                input: valid_with(|f| {
                    set(f, "Connection", "keep-alive");
                    add(f, "connection", "UPGRADE");
                }),
                config: default_config,
                expect: ok(no_check),
            },
            Case {
                rule: "field names in any case, whitespace around values",
                input: head(
                    "GET / HTTP/1.1",
                    &[
                        ("HOST", "example.com"),
                        ("upgrade", "  websocket\t"),
                        ("CONNECTION", "Upgrade"),
                        ("sec-websocket-key", " dGhlIHNhbXBsZSBub25jZQ== "),
                        ("SEC-WEBSOCKET-VERSION", "13"),
                    ]
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                ),
                config: default_config,
                expect: ok(|r| assert_eq!(r.key(), "dGhlIHNhbXBsZSBub25jZQ==")),
            },
            Case {
                rule: "path and query split at '?'",
                input: valid_start("GET /a/b?c=d&e=%20 HTTP/1.1"),
                config: default_config,
                expect: ok(|r| {
                    assert_eq!(r.target(), "/a/b?c=d&e=%20");
                    assert_eq!(r.path(), "/a/b");
                    assert_eq!(r.query(), Some("c=d&e=%20"));
                }),
            },
            Case {
                rule: "empty query",
                input: valid_start("GET /? HTTP/1.1"),
                config: default_config,
                expect: ok(|r| {
                    assert_eq!(r.path(), "/");
                    assert_eq!(r.query(), Some(""));
                }),
            },
            Case {
                rule: "absolute http URI as request target",
                input: valid_start("GET http://example.com/chat?x=1 HTTP/1.1"),
                config: default_config,
                expect: ok(|r| {
                    assert_eq!(r.path(), "/chat");
                    assert_eq!(r.query(), Some("x=1"));
                }),
            },
            Case {
                rule: "absolute URI without path",
                input: valid_start("GET https://example.com HTTP/1.1"),
                config: default_config,
                expect: ok(|r| assert_eq!(r.path(), "/")),
            },
            Case {
                rule: "same-host Origin with explicit port",
                input: valid_with(|f| {
                    set(f, "Host", "example.com:8080");
                    add(f, "Origin", "http://EXAMPLE.com:8080");
                }),
                config: default_config,
                expect: ok(|r| assert_eq!(r.origin(), Some("http://EXAMPLE.com:8080"))),
            },
            Case {
                rule: "same-host Origin, https default port",
                input: valid_with(|f| add(f, "Origin", "https://example.com")),
                config: default_config,
                expect: ok(no_check),
            },
            Case {
                rule: "same-host Origin, IPv6 literal",
                input: valid_with(|f| {
                    set(f, "Host", "[::1]:9001");
                    add(f, "Origin", "http://[::1]:9001");
                }),
                config: default_config,
                expect: ok(no_check),
            },
            Case {
                rule: "policy Any accepts a foreign Origin",
                input: RFC_REQUEST.as_bytes().to_vec(),
                config: any_origin,
                expect: ok(no_check),
            },
            Case {
                rule: "custom policy accepts",
                input: valid_with(|f| add(f, "Origin", "https://app.trusted.example")),
                config: custom_origin,
                expect: ok(no_check),
            },
            Case {
                rule: "subprotocols across repeated fields, in order",
                input: valid_with(|f| {
                    add(f, "Sec-WebSocket-Protocol", "v2.chat, , chat");
                    add(f, "Sec-WebSocket-Protocol", "mqtt");
                }),
                config: default_config,
                expect: ok(|r| assert_eq!(r.subprotocols(), ["v2.chat", "chat", "mqtt"])),
            },
            Case {
                rule: "extension offers across repeated fields",
                input: valid_with(|f| {
                    add(f, "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits, x-a;p=\"1\"");
                    add(f, "Sec-WebSocket-Extensions", "permessage-deflate");
                }),
                config: default_config,
                expect: ok(|r| {
                    assert_eq!(
                        r.extensions(),
                        [
                            Extension::new("permessage-deflate").with_flag("client_max_window_bits"),
                            Extension::new("x-a").with_value("p", "1"),
                            Extension::new("permessage-deflate"),
                        ]
                    );
                }),
            },
            Case {
                rule: "Content-Length: 0 is not a body",
                input: valid_with(|f| add(f, "Content-Length", "0")),
                config: default_config,
                expect: ok(no_check),
            },
            Case {
                rule: "exactly the header-count limit",
                input: padded_fields(HeadLimits::DEFAULT_MAX_HEADERS),
                config: default_config,
                expect: ok(|r| assert_eq!(r.headers().len(), HeadLimits::DEFAULT_MAX_HEADERS)),
            },
            // ---- rejected: request line ----
            Case {
                rule: "method must be GET",
                input: valid_start("POST /chat HTTP/1.1"),
                config: default_config,
                expect: Err(HandshakeError::MethodNotAllowed { method: "POST".into() }),
            },
            Case {
                rule: "method is case-sensitive",
                input: valid_start("get /chat HTTP/1.1"),
                config: default_config,
                expect: Err(HandshakeError::MethodNotAllowed { method: "get".into() }),
            },
            Case {
                rule: "HTTP/1.1 or later",
                input: valid_start("GET /chat HTTP/1.0"),
                config: default_config,
                expect: Err(HandshakeError::UnsupportedHttpVersion),
            },
            Case {
                rule: "asterisk-form target",
                input: valid_start("GET * HTTP/1.1"),
                config: default_config,
                expect: Err(HandshakeError::InvalidTarget),
            },
            Case {
                rule: "absolute URI of another scheme",
                input: valid_start("GET ftp://example.com/chat HTTP/1.1"),
                config: default_config,
                expect: Err(HandshakeError::InvalidTarget),
            },
            Case {
                rule: "target with a fragment",
                input: valid_start("GET /chat#x HTTP/1.1"),
                config: default_config,
                expect: Err(HandshakeError::InvalidTarget),
            },
            // ---- rejected: Host ----
            Case {
                rule: "Host is required",
                input: valid_with(|f| remove(f, "Host")),
                config: default_config,
                expect: Err(HandshakeError::MissingHost),
            },
            Case {
                rule: "Host at most once",
                input: valid_with(|f| add(f, "Host", "other.example")),
                config: default_config,
                expect: Err(HandshakeError::RepeatedHeader { name: "Host" }),
            },
            Case {
                rule: "Host not empty",
                input: valid_with(|f| set(f, "Host", "")),
                config: default_config,
                expect: Err(HandshakeError::InvalidHeaderValue { name: "Host" }),
            },
            Case {
                rule: "Host is host[:port]",
                input: valid_with(|f| set(f, "Host", "example.com:http")),
                config: default_config,
                expect: Err(HandshakeError::InvalidHost),
            },
            // ---- rejected: body ----
            Case {
                rule: "no Content-Length body",
                input: valid_with(|f| add(f, "Content-Length", "5")),
                config: default_config,
                expect: Err(HandshakeError::UnexpectedBody),
            },
            Case {
                rule: "no Transfer-Encoding body",
                input: valid_with(|f| add(f, "Transfer-Encoding", "chunked")),
                config: default_config,
                expect: Err(HandshakeError::UnexpectedBody),
            },
            // ---- rejected: Upgrade / Connection ----
            Case {
                rule: "Upgrade is required",
                input: valid_with(|f| remove(f, "Upgrade")),
                config: default_config,
                expect: Err(HandshakeError::MissingUpgrade),
            },
            Case {
                rule: "Upgrade must name websocket",
                input: valid_with(|f| set(f, "Upgrade", "h2c")),
                config: default_config,
                expect: Err(HandshakeError::MissingUpgrade),
            },
            Case {
                rule: "Upgrade token must match exactly",
                input: valid_with(|f| set(f, "Upgrade", "websockets")),
                config: default_config,
                expect: Err(HandshakeError::MissingUpgrade),
            },
            Case {
                rule: "Connection is required",
                input: valid_with(|f| remove(f, "Connection")),
                config: default_config,
                expect: Err(HandshakeError::MissingConnectionUpgrade),
            },
            Case {
                rule: "Connection must contain Upgrade",
                input: valid_with(|f| set(f, "Connection", "keep-alive")),
                config: default_config,
                expect: Err(HandshakeError::MissingConnectionUpgrade),
            },
            // ---- rejected: version (426) ----
            Case {
                rule: "Sec-WebSocket-Version is required",
                input: valid_with(|f| remove(f, "Sec-WebSocket-Version")),
                config: default_config,
                expect: Err(HandshakeError::MissingVersion),
            },
            Case {
                rule: "Sec-WebSocket-Version must be 13",
                input: valid_with(|f| set(f, "Sec-WebSocket-Version", "8")),
                config: default_config,
                expect: Err(HandshakeError::UnsupportedVersion { version: "8".into() }),
            },
            Case {
                rule: "Sec-WebSocket-Version is a single value",
                input: valid_with(|f| set(f, "Sec-WebSocket-Version", "13, 8")),
                config: default_config,
                expect: Err(HandshakeError::UnsupportedVersion { version: "13, 8".into() }),
            },
            Case {
                rule: "Sec-WebSocket-Version at most once",
                input: valid_with(|f| add(f, "Sec-WebSocket-Version", "13")),
                config: default_config,
                expect: Err(HandshakeError::RepeatedHeader { name: "Sec-WebSocket-Version" }),
            },
            Case {
                rule: "version is checked before the key (old clients learn the version)",
                input: valid_with(|f| {
                    remove(f, "Sec-WebSocket-Key");
                    set(f, "Sec-WebSocket-Version", "8");
                }),
                config: default_config,
                expect: Err(HandshakeError::UnsupportedVersion { version: "8".into() }),
            },
            // ---- rejected: key ----
            Case {
                rule: "Sec-WebSocket-Key is required",
                input: valid_with(|f| remove(f, "Sec-WebSocket-Key")),
                config: default_config,
                expect: Err(HandshakeError::MissingKey),
            },
            Case {
                rule: "Sec-WebSocket-Key at most once",
                input: valid_with(|f| add(f, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")),
                config: default_config,
                expect: Err(HandshakeError::RepeatedHeader { name: "Sec-WebSocket-Key" }),
            },
            Case {
                rule: "Sec-WebSocket-Key must be base64",
                input: valid_with(|f| set(f, "Sec-WebSocket-Key", "not base64 at all!!!!!!=")),
                config: default_config,
                expect: Err(HandshakeError::InvalidKey),
            },
            Case {
                rule: "Sec-WebSocket-Key must decode to 16 bytes, not 15",
                input: valid_with(|f| set(f, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA")),
                config: default_config,
                expect: Err(HandshakeError::InvalidKey),
            },
            Case {
                rule: "Sec-WebSocket-Key must decode to 16 bytes, not 17",
                input: valid_with(|f| set(f, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=")),
                config: default_config,
                expect: Err(HandshakeError::InvalidKey),
            },
            // ---- rejected: subprotocols and extensions ----
            Case {
                rule: "subprotocols are tokens",
                input: valid_with(|f| add(f, "Sec-WebSocket-Protocol", "chat, ch@t")),
                config: default_config,
                expect: Err(HandshakeError::InvalidSubprotocol { protocol: "ch@t".into() }),
            },
            Case {
                rule: "subprotocols are unique",
                input: valid_with(|f| {
                    add(f, "Sec-WebSocket-Protocol", "chat");
                    add(f, "Sec-WebSocket-Protocol", "chat");
                }),
                config: default_config,
                expect: Err(HandshakeError::DuplicateSubprotocol { protocol: "chat".into() }),
            },
            Case {
                rule: "extensions follow §9.1",
                input: valid_with(|f| add(f, "Sec-WebSocket-Extensions", "permessage-deflate;")),
                config: default_config,
                expect: Err(HandshakeError::InvalidExtensions(ExtensionParseError {
                    offset: 19,
                    kind: ExtensionParseErrorKind::ExpectedParamName,
                })),
            },
            // ---- rejected: Origin (403) ----
            Case {
                rule: "foreign Origin refused by default (RFC example)",
                input: RFC_REQUEST.as_bytes().to_vec(),
                config: default_config,
                expect: Err(HandshakeError::OriginRefused { origin: "http://example.com".into() }),
            },
            Case {
                rule: "null Origin refused",
                input: valid_with(|f| add(f, "Origin", "null")),
                config: default_config,
                expect: Err(HandshakeError::OriginRefused { origin: "null".into() }),
            },
            Case {
                rule: "same host, other port refused",
                input: valid_with(|f| add(f, "Origin", "http://example.com:8080")),
                config: default_config,
                expect: Err(HandshakeError::OriginRefused { origin: "http://example.com:8080".into() }),
            },
            Case {
                rule: "Origin not in the allow list",
                input: valid_with(|f| add(f, "Origin", "https://example.com")),
                config: allow_rfc_origin,
                expect: Err(HandshakeError::OriginRefused { origin: "https://example.com".into() }),
            },
            Case {
                rule: "custom policy refuses",
                input: valid_with(|f| add(f, "Origin", "https://evil.example")),
                config: custom_origin,
                expect: Err(HandshakeError::OriginRefused { origin: "https://evil.example".into() }),
            },
            Case {
                rule: "Origin at most once",
                input: valid_with(|f| {
                    add(f, "Origin", "http://example.com");
                    add(f, "Origin", "http://evil.example");
                }),
                config: any_origin,
                expect: Err(HandshakeError::RepeatedHeader { name: "Origin" }),
            },
            // ---- rejected: syntax ----
            Case {
                rule: "header line without colon",
                input: b"GET / HTTP/1.1\r\nHost: example.com\r\nBad Header\r\n\r\n".to_vec(),
                config: default_config,
                expect: Err(HandshakeError::Malformed { what: "invalid header name" }),
            },
            Case {
                rule: "TLS ClientHello on a plain port",
                input: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
                config: default_config,
                // Refused at its first byte, not when a blank line happens to follow.
                expect: Err(HandshakeError::TlsOnPlainText),
            },
            Case {
                rule: "blank line before the request line",
                input: [&b"\r\n\r\n"[..], &valid_with(|_| {})].concat(),
                config: default_config,
                // Refused at its first byte: a request line starts with a method token.
                expect: Err(HandshakeError::NotHttp),
            },
            // ---- rejected: bounds (431) ----
            Case {
                rule: "head larger than 16 KiB",
                input: big,
                config: default_config,
                expect: Err(HandshakeError::HeadTooLarge { limit: 16 * 1024 }),
            },
            Case {
                rule: "100 header fields",
                input: padded_fields(100),
                config: default_config,
                expect: Err(HandshakeError::TooManyHeaders { limit: 64 }),
            },
            Case {
                rule: "one field over the limit",
                input: padded_fields(HeadLimits::DEFAULT_MAX_HEADERS + 1),
                config: default_config,
                expect: Err(HandshakeError::TooManyHeaders { limit: 64 }),
            },
            Case {
                rule: "configured smaller head limit",
                input: valid_with(|_| {}),
                config: || {
                    ServerConfig::default()
                        .with_limits(HeadLimits::default().with_max_head_size(64).with_max_headers(64))
                },
                expect: Err(HandshakeError::HeadTooLarge { limit: 64 }),
            },
        ]
    }

    fn expected_status(e: &HandshakeError) -> u16 {
        match e {
            HandshakeError::HeadTooLarge { .. } | HandshakeError::TooManyHeaders { .. } => 431,
            HandshakeError::MethodNotAllowed { .. } => 405,
            HandshakeError::MissingVersion | HandshakeError::UnsupportedVersion { .. } => 426,
            HandshakeError::OriginRefused { .. } => 403,
            HandshakeError::Timeout { .. } => 408,
            _ => 400,
        }
    }

    #[test]
    fn table_every_rule_every_way() {
        let cases = cases();
        assert!(cases.len() >= 60, "{} cases", cases.len());
        for case in &cases {
            let mut first: Option<Result<Request, HandshakeError>> = None;
            for mode in MODES {
                let (outcome, trailing) = run((case.config)(), &case.input, mode);
                match (&outcome, &case.expect) {
                    (Ok(request), Ok(check)) => {
                        check(request);
                        assert_eq!(trailing, expected_trailing(mode), "{}: {mode:?} trailing", case.rule);
                    }
                    (Err(e), Err(expected)) => {
                        assert_eq!(e, expected, "{}: {mode:?}", case.rule);
                        assert_eq!(e.status(), expected_status(expected), "{}: status", case.rule);
                    }
                    (got, _) => panic!("{}: {mode:?}: unexpected {got:?}", case.rule),
                }
                // Same outcome however the input is split.
                match &first {
                    None => first = Some(outcome),
                    Some(f) => assert_eq!(f, &outcome, "{}: {mode:?} differs from whole input", case.rule),
                }
            }
        }
    }

    /// Parses an HTTP response the way a client would, returning status, headers and body.
    fn parse_response(bytes: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut slots);
        let n = match resp.parse(bytes).expect("valid response") {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => panic!("incomplete response"),
        };
        let headers: Vec<(String, String)> =
            resp.headers.iter().map(|h| (h.name.to_string(), String::from_utf8(h.value.to_vec()).unwrap())).collect();
        (resp.code.unwrap(), headers, bytes[n..].to_vec())
    }

    fn field<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_error_writes_a_complete_response() {
        for case in cases() {
            let Err(expected) = &case.expect else { continue };
            let mut out = b"previous".to_vec();
            expected.write_response(&mut out);
            assert!(out.starts_with(b"previous"), "appends");
            if *expected == HandshakeError::TlsOnPlainText {
                assert_eq!(out, b"previous", "a TLS client gets no HTTP answer");
                continue;
            }
            let (status, headers, body) = parse_response(&out[8..]);
            assert_eq!(status, expected.status(), "{}", case.rule);
            assert_eq!(field(&headers, "Content-Length"), Some(body.len().to_string().as_str()), "{}", case.rule);
            assert_eq!(String::from_utf8(body).unwrap(), format!("{expected}\n"), "{}", case.rule);
            let connection = field(&headers, "Connection").unwrap();
            assert!(connection.split(',').any(|t| t.trim() == "close"), "{}: {connection}", case.rule);
            match status {
                426 => {
                    assert_eq!(field(&headers, "Sec-WebSocket-Version"), Some("13"), "{}", case.rule);
                    assert_eq!(field(&headers, "Upgrade"), Some("websocket"));
                    assert!(connection.contains("Upgrade"));
                }
                405 => assert_eq!(field(&headers, "Allow"), Some("GET")),
                _ => assert_eq!(field(&headers, "Sec-WebSocket-Version"), None),
            }
        }
    }

    #[test]
    fn exact_rejection_bytes() {
        let mut out = Vec::new();
        HandshakeError::UnsupportedVersion { version: "8".into() }.write_response(&mut out);
        let body = "WebSocket version \"8\" is not supported, only 13\n";
        let expected = format!(
            "HTTP/1.1 426 Upgrade Required\r\nConnection: Upgrade, close\r\nContent-Length: {}\r\n\
             Content-Type: text/plain; charset=utf-8\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    /// A handshake (with the default configuration but `config`) that has read `input`, and the
    /// request it returned.
    fn read(config: ServerConfig, input: &[u8]) -> (ServerHandshake, Request) {
        let mut hs = ServerHandshake::new(config, Instant::ZERO);
        let request = hs.handle_input(input).unwrap().unwrap();
        (hs, request)
    }

    fn rfc_handshake() -> (ServerHandshake, Request) {
        read(allow_rfc_origin(), RFC_REQUEST.as_bytes())
    }

    #[test]
    fn rfc_example_response_bytes() {
        let (hs, request) = rfc_handshake();
        let upgraded = hs.accept(&request, Accept::new().with_subprotocol("chat")).unwrap();
        assert_eq!(String::from_utf8(upgraded.response_bytes().to_vec()).unwrap(), RFC_RESPONSE);
    }

    #[test]
    fn accept_writes_extensions_and_extra_headers() {
        // permessage-deflate is answered from the configuration (a smaller client window here).
        let deflate = DeflateConfig::default().with_client_max_window_bits(10);
        let input = valid_with(|f| add(f, "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"));
        let (hs, request) = read(ServerConfig::default().with_deflate(Some(deflate)), &input);
        let accept = Accept::new().with_header("Set-Cookie", "id=1");
        let upgraded = hs.accept(&request, accept).unwrap();
        let (status, headers, body) = parse_response(upgraded.response_bytes());
        assert_eq!(status, 101);
        assert!(body.is_empty());
        assert_eq!(field(&headers, "Sec-WebSocket-Extensions"), Some("permessage-deflate; client_max_window_bits=10"));
        assert_eq!(field(&headers, "Set-Cookie"), Some("id=1"));
        assert_eq!(field(&headers, "Sec-WebSocket-Protocol"), None);
        assert_eq!(
            upgraded.extensions(),
            [Extension::new("permessage-deflate").with_value("client_max_window_bits", "10")]
        );
        assert_eq!(upgraded.deflate().map(|p| p.client_max_window_bits), Some(10));
    }

    #[test]
    fn accept_misuse_is_a_local_error_and_writes_nothing() {
        let cases = [
            (
                Accept::new().with_subprotocol("superchat2"),
                AcceptError::SubprotocolNotOffered { protocol: "superchat2".into() },
            ),
            (Accept::new().with_subprotocol("CHAT"), AcceptError::SubprotocolNotOffered { protocol: "CHAT".into() }),
            (
                Accept::new().with_extension(Extension::new("x-compress")),
                AcceptError::ExtensionNotOffered { name: "x-compress".into() },
            ),
            (Accept::new().with_header("Bad Name", "x"), AcceptError::InvalidHeaderName { name: "Bad Name".into() }),
            (
                Accept::new().with_header("X-Split", "a\r\nInjected: yes"),
                AcceptError::InvalidHeaderValue { name: "X-Split".into() },
            ),
            (
                Accept::new().with_header("sec-websocket-accept", "forged"),
                AcceptError::ReservedHeader { name: "sec-websocket-accept".into() },
            ),
            (
                Accept::new().with_header("Connection", "close"),
                AcceptError::ReservedHeader { name: "Connection".into() },
            ),
        ];
        for (accept, expected) in cases {
            // An error gives no `Upgraded`, so no response exists to be written.
            let (hs, request) = rfc_handshake();
            assert_eq!(hs.accept(&request, accept).unwrap_err(), expected);
            assert!(!expected.to_string().is_empty());
        }
    }

    #[test]
    fn accept_extension_checks() {
        let input = valid_with(|f| add(f, "Sec-WebSocket-Extensions", "x-a, x-b"));
        let twice = Accept::new().with_extension(Extension::new("x-a")).with_extension(Extension::new("X-A"));
        let (hs, request) = read(ServerConfig::default(), &input);
        assert_eq!(hs.accept(&request, twice).unwrap_err(), AcceptError::DuplicateExtension { name: "X-A".into() });
        let bad_value = Accept::new().with_extension(Extension::new("x-b").with_value("p", "\u{1}"));
        let (hs, request) = read(ServerConfig::default(), &input);
        assert!(matches!(hs.accept(&request, bad_value), Err(AcceptError::InvalidExtension(_))));
        let both =
            Accept::new().with_extension(Extension::new("x-b")).with_extension(Extension::new("x-a").with_flag("f"));
        let (hs, request) = read(ServerConfig::default(), &input);
        let upgraded = hs.accept(&request, both).unwrap();
        let response = String::from_utf8(upgraded.response_bytes().to_vec()).unwrap();
        assert!(response.contains("\r\nSec-WebSocket-Extensions: x-b, x-a; f\r\n"), "{response}");
    }

    #[test]
    fn reject_writes_chosen_status() {
        let mut out = Vec::new();
        Reject::new(401).with_header("WWW-Authenticate", "Bearer").with_body("token required").write(&mut out).unwrap();
        let (status, headers, body) = parse_response(&out);
        assert_eq!(status, 401);
        assert_eq!(field(&headers, "WWW-Authenticate"), Some("Bearer"));
        assert_eq!(field(&headers, "Connection"), Some("close"));
        assert_eq!(field(&headers, "Content-Length"), Some("14"));
        assert_eq!(body, b"token required");
        assert!(out.starts_with(b"HTTP/1.1 401 Unauthorized\r\n"));

        let mut out = Vec::new();
        Reject::new(599).write(&mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 599 \r\n"));

        for (reject, expected) in [
            (Reject::new(101), AcceptError::InvalidStatus { status: 101 }),
            (Reject::new(600), AcceptError::InvalidStatus { status: 600 }),
            (
                Reject::new(400).with_header("Content-Length", "1"),
                AcceptError::ReservedHeader { name: "Content-Length".into() },
            ),
            (Reject::new(400).with_header("X", "\n"), AcceptError::InvalidHeaderValue { name: "X".into() }),
        ] {
            let mut out = Vec::new();
            assert_eq!(reject.write(&mut out), Err(expected));
            assert!(out.is_empty());
        }
    }

    #[test]
    fn redirect_is_seen_by_the_client() {
        let mut out = Vec::new();
        Reject::new(302).with_header("Location", "ws://other.example/chat").write(&mut out).unwrap();
        let mut client = ClientHandshake::with_randomness(
            "ws://example.com/chat",
            ClientConfig::default(),
            Instant::ZERO,
            Box::new(SeededRandom::new(3)),
        )
        .expect("valid");
        let err = client.handle_input(&out).unwrap_err();
        assert_eq!(err.location(), Some("ws://other.example/chat"));
        assert_eq!(err.rejected_status(), Some(302));
        let ClientHandshakeError::Rejected(r) = err else { panic!() };
        assert_eq!(r.reason, "Found");
    }

    #[test]
    fn input_after_the_request_joins_the_trailing_bytes() {
        let mut hs = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
        let mut input = valid_with(|_| {});
        input.extend_from_slice(b"ab");
        let request = hs.handle_input(&input).unwrap().unwrap();
        assert!(hs.handle_input(b"cd").unwrap().is_none());
        assert!(hs.handle_input(b"").unwrap().is_none());
        assert!(hs.handle_input(b"e").unwrap().is_none());
        let upgraded = hs.accept(&request, Accept::new()).unwrap();
        assert_eq!(upgraded.trailing(), b"abcde", "in order, none lost");
    }

    #[test]
    fn an_error_is_sticky() {
        let mut hs = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
        let e = hs.handle_input(&valid_start("PUT / HTTP/1.1")).unwrap_err();
        assert_eq!(hs.handle_input(&valid_with(|_| {})), Err(e));
        assert!(!hs.is_done());
    }

    #[test]
    fn partial_input_is_not_an_error() {
        let mut hs = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
        let input = valid_with(|_| {});
        assert_eq!(hs.handle_input(&input[..input.len() - 1]), Ok(None));
        assert_eq!(hs.handle_input(&[]), Ok(None));
        assert!(hs.handle_input(&input[input.len() - 1..]).unwrap().is_some());
    }

    #[test]
    fn slowloris_16_kib_one_byte_at_a_time_completes() {
        // A request padded to exactly the limit, delivered one byte per call.
        let mut input = valid_with(|f| add(f, "X-Pad", ""));
        let missing = HeadLimits::DEFAULT_MAX_HEAD_SIZE - input.len();
        input = valid_with(|f| add(f, "X-Pad", &"p".repeat(missing)));
        assert_eq!(input.len(), HeadLimits::DEFAULT_MAX_HEAD_SIZE);
        let mut hs = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
        let (last, rest) = input.split_last().unwrap();
        for b in rest {
            assert_eq!(hs.handle_input(std::slice::from_ref(b)), Ok(None));
        }
        let request = hs.handle_input(&[*last]).unwrap().expect("complete at the last byte");
        assert_eq!(request.header("x-pad").map(str::len), Some(missing));

        // One byte more and it is refused.
        let input = valid_with(|f| add(f, "X-Pad", &"p".repeat(missing + 1)));
        let mut hs = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
        let err = input.iter().find_map(|b| hs.handle_input(std::slice::from_ref(b)).err()).unwrap();
        assert_eq!(err.status(), 431);
    }

    /// The RFC 6455 §5.7 masked text frame "Hello".
    const HELLO: &[u8] = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    /// A masked Ping "hi".
    const PING_HI: &[u8] = &[0x89, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];

    fn output(conn: &mut sansio_ws::connection::Connection, now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        while conn.poll_transmit(now, &mut out) > 0 {}
        out
    }

    #[test]
    fn accept_gives_the_response_and_the_bytes_after_the_request() {
        let mut input = RFC_REQUEST.as_bytes().to_vec();
        input.extend_from_slice(TRAILING);
        let (hs, request) = read(allow_rfc_origin(), &input);
        let upgraded = hs.accept(&request, Accept::new().with_subprotocol("chat")).unwrap();
        assert_eq!(upgraded.role(), sansio_ws::Role::Server);
        assert_eq!(upgraded.response_bytes(), RFC_RESPONSE.as_bytes());
        assert_eq!(upgraded.trailing(), TRAILING);
        assert_eq!(upgraded.subprotocol(), Some("chat"));
        assert!(upgraded.extensions().is_empty());
        assert_eq!(upgraded.deflate(), None);
        assert!(upgraded.server_response().is_none());
    }

    /// A client that sent frames right behind its request: the connection's first output is the
    /// 101, then its answers to those frames (a Pong for the Ping), and their events are ready.
    #[test]
    fn into_connection_writes_the_101_then_answers_the_early_frames() {
        let mut input = RFC_REQUEST.as_bytes().to_vec();
        input.extend_from_slice(HELLO);
        input.extend_from_slice(PING_HI);
        let (hs, request) = read(allow_rfc_origin(), &input);
        let upgraded = hs.accept(&request, Accept::new().with_subprotocol("chat")).unwrap();
        assert_eq!(upgraded.trailing(), [HELLO, PING_HI].concat());
        let now = Instant::from_secs(5);
        let mut conn = upgraded.into_connection(Config::default(), now);
        assert_eq!(conn.role(), sansio_ws::Role::Server);
        assert_eq!(conn.poll_event(), Some(Event::Message(Message::Text("Hello".into()))));
        assert_eq!(conn.poll_event(), Some(Event::Ping(sansio_ws::bytes::Bytes::from_static(b"hi"))));
        assert_eq!(conn.poll_event(), None);
        let mut expected = RFC_RESPONSE.as_bytes().to_vec();
        expected.extend_from_slice(&[0x8A, 0x02, b'h', b'i']);
        let mut first = Vec::new();
        assert!(conn.poll_transmit(now, &mut first) > 0);
        assert!(first.starts_with(RFC_RESPONSE.as_bytes()), "the first output begins with the 101");
        first.extend(output(&mut conn, now));
        assert_eq!(first, expected, "the 101, then the Pong");
        // Later output follows as usual.
        conn.send_text("bye").unwrap();
        assert_eq!(output(&mut conn, now), [0x81, 0x03, b'b', b'y', b'e']);
    }

    /// A server whose HTTP library writes the 101 takes it out: the connection then starts with
    /// its first frame, and the response is taken once.
    #[test]
    fn a_taken_response_is_not_queued() {
        let (hs, request) = rfc_handshake();
        let mut upgraded = hs.accept(&request, Accept::new()).unwrap();
        let expected = upgraded.response_bytes().to_vec();
        assert_eq!(upgraded.take_response_bytes(), expected);
        assert!(upgraded.response_bytes().is_empty());
        assert!(upgraded.take_response_bytes().is_empty(), "taken once");
        let now = Instant::ZERO;
        let mut conn = upgraded.into_connection(Config::default(), now);
        assert_eq!(output(&mut conn, now), b"", "nothing queued before the first frame");
        conn.send_text("hi").unwrap();
        assert_eq!(output(&mut conn, now), [0x81, 0x02, b'h', b'i']);
    }

    /// The 101 goes out first even when the transport takes it in pieces and the application
    /// sent something at once.
    #[test]
    fn the_101_comes_first_even_when_written_in_pieces() {
        let (hs, request) = rfc_handshake();
        let upgraded = hs.accept(&request, Accept::new()).unwrap();
        let response = upgraded.response_bytes().to_vec();
        assert!(upgraded.trailing().is_empty());
        let now = Instant::ZERO;
        let mut conn = upgraded.into_connection(Config::default(), now);
        conn.send_text("hi").unwrap();
        // The transport takes 10 bytes, then the rest.
        let mut out = conn.transmit_chunks().next().unwrap()[..10].to_vec();
        conn.advance_transmit(now, 10);
        out.extend(output(&mut conn, now));
        let mut expected = response;
        expected.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
        assert_eq!(out, expected);
    }

    #[test]
    fn the_request_must_arrive_before_the_deadline() {
        assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(10));
        let start = Instant::from_secs(1_700_000_000);
        let deadline = start + DEFAULT_TIMEOUT;
        let input = valid_with(|_| {});
        let mut hs = ServerHandshake::new(ServerConfig::default(), start);
        assert_eq!(hs.poll_timeout(), Some(deadline));
        // A byte now and then does not push the deadline back.
        assert_eq!(hs.handle_input(&input[..10]), Ok(None));
        assert_eq!(hs.poll_timeout(), Some(deadline));
        assert_eq!(hs.handle_timeout(start), Ok(()));
        assert_eq!(hs.handle_timeout(start + (DEFAULT_TIMEOUT - Duration::from_millis(1))), Ok(()));
        assert_eq!(hs.poll_timeout(), Some(deadline));
        let err = hs.handle_timeout(deadline).unwrap_err();
        assert_eq!(err, HandshakeError::Timeout { after: DEFAULT_TIMEOUT });
        assert_eq!(err.status(), 408);
        let mut out = Vec::new();
        err.write_response(&mut out);
        assert!(out.starts_with(b"HTTP/1.1 408 "), "{}", String::from_utf8_lossy(&out));
        let (status, headers, body) = parse_response(&out);
        assert_eq!(status, 408);
        assert_eq!(field(&headers, "Connection"), Some("close"));
        assert_eq!(String::from_utf8(body).unwrap(), format!("{err}\n"));
        // The failure is final: the rest of the request gets the same error, and no deadline is left.
        assert_eq!(hs.handle_input(&input[10..]), Err(err.clone()));
        assert_eq!(hs.handle_timeout(deadline + Duration::from_secs(1)), Err(err));
        assert_eq!(hs.poll_timeout(), None);
        assert!(!hs.is_done());

        // Found late (after the deadline) it is the same; the configured timeout applies.
        let two = Duration::from_secs(2);
        let mut hs = ServerHandshake::new(ServerConfig::default().with_timeout(two), start);
        assert_eq!(hs.poll_timeout(), Some(start + two));
        assert_eq!(hs.handle_timeout(start + Duration::from_secs(3600)), Err(HandshakeError::Timeout { after: two }));

        // Once the request is complete there is no deadline, and a late timer changes nothing.
        let mut hs = ServerHandshake::new(ServerConfig::default(), start);
        let request = hs.handle_input(&input).unwrap().unwrap();
        assert_eq!(hs.poll_timeout(), None);
        assert_eq!(hs.handle_timeout(deadline + Duration::from_secs(3600)), Ok(()));
        assert!(hs.accept(&request, Accept::new()).is_ok());
    }

    #[test]
    fn permessage_deflate_in_accept_is_refused() {
        let offered = valid_with(|f| add(f, "Sec-WebSocket-Extensions", "permessage-deflate"));
        let not_offered = valid_with(|_| {});
        for input in [&offered, &not_offered] {
            for config in [ServerConfig::default(), ServerConfig::default().with_deflate(None)] {
                for name in ["permessage-deflate", "PerMessage-Deflate"] {
                    let (hs, request) = read(config.clone(), input);
                    let accept = Accept::new().with_extension(Extension::new(name));
                    assert_eq!(hs.accept(&request, accept).unwrap_err(), AcceptError::DeflateInAccept);
                }
            }
        }
        assert!(!AcceptError::DeflateInAccept.to_string().is_empty());
    }

    #[test]
    fn permessage_deflate_is_accepted_by_default_and_declined_without_a_config() {
        let input = valid_with(|f| add(f, "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"));
        let (hs, request) = read(ServerConfig::default(), &input);
        let upgraded = hs.accept(&request, Accept::new()).unwrap();
        let (_, headers, _) = parse_response(upgraded.response_bytes());
        assert_eq!(field(&headers, "Sec-WebSocket-Extensions"), Some("permessage-deflate"));
        let full = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        };
        assert_eq!(upgraded.deflate(), Some(full));
        assert_eq!(upgraded.extensions(), [Extension::new("permessage-deflate")]);
        assert!(upgraded.into_connection(Config::default(), Instant::ZERO).is_deflate_enabled());

        let (hs, request) = read(ServerConfig::default().with_deflate(None), &input);
        let upgraded = hs.accept(&request, Accept::new()).unwrap();
        let (_, headers, _) = parse_response(upgraded.response_bytes());
        assert_eq!(field(&headers, "Sec-WebSocket-Extensions"), None, "declined");
        assert_eq!(upgraded.deflate(), None);
        assert!(upgraded.extensions().is_empty());
        assert!(!upgraded.into_connection(Config::default(), Instant::ZERO).is_deflate_enabled());

        // Not offered: nothing to accept.
        let (hs, request) = read(ServerConfig::default(), &valid_with(|_| {}));
        let upgraded = hs.accept(&request, Accept::new()).unwrap();
        let (_, headers, _) = parse_response(upgraded.response_bytes());
        assert_eq!(field(&headers, "Sec-WebSocket-Extensions"), None);
        assert_eq!(upgraded.deflate(), None);

        // Next to an extension the application accepts.
        let input = valid_with(|f| add(f, "Sec-WebSocket-Extensions", "x-a, permessage-deflate"));
        let (hs, request) = read(ServerConfig::default(), &input);
        let upgraded = hs.accept(&request, Accept::new().with_extension(Extension::new("x-a"))).unwrap();
        let (_, headers, _) = parse_response(upgraded.response_bytes());
        assert_eq!(field(&headers, "Sec-WebSocket-Extensions"), Some("x-a, permessage-deflate"));
        assert_eq!(upgraded.deflate(), Some(full));
    }

    #[test]
    fn errors_display_what_was_wrong() {
        let samples = [
            (HandshakeError::MissingKey, "Sec-WebSocket-Key"),
            (HandshakeError::MissingHost, "Host"),
            (HandshakeError::OriginRefused { origin: "http://evil".into() }, "http://evil"),
            (HandshakeError::MethodNotAllowed { method: "POST".into() }, "POST"),
            (HandshakeError::HeadTooLarge { limit: 10 }, "10"),
            (HandshakeError::TooManyHeaders { limit: 64 }, "64"),
            (HandshakeError::RepeatedHeader { name: "Origin" }, "Origin"),
            (HandshakeError::Timeout { after: Duration::from_secs(10) }, "10s"),
        ];
        for (e, needle) in samples {
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}

#[test]
fn a_plain_get_exposes_its_path_for_serving_a_page() {
    use sansio_ws::Instant;
    use sansio_ws::handshake::{HandshakeError, Reject, ServerConfig, ServerHandshake};
    let mut hs = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
    let err = hs.handle_input(b"GET /index.html?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n").unwrap_err();
    assert_eq!(err, HandshakeError::MissingUpgrade);
    assert_eq!(hs.plain_http_path(), Some("/index.html"));
    let mut out = Vec::new();
    Reject::new(200).with_header("Content-Type", "text/html").with_body("<p>hi</p>").write(&mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200 "));

    // An Upgrade to something else is not a plain GET; a bad WebSocket request is not either.
    let mut hs = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
    hs.handle_input(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n").unwrap_err();
    assert_eq!(hs.plain_http_path(), None);
    let mut hs = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
    hs.handle_input(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").unwrap_err();
    assert_eq!(hs.plain_http_path(), None);
}

/// Bytes that cannot start an HTTP request line are refused as they arrive, not when the head
/// would be complete or the deadline passes: a TLS ClientHello (nothing written back, a TLS
/// client cannot read it), binary noise or a method token that never ends (400).
#[test]
fn non_http_first_bytes_are_refused_at_once() {
    use sansio_ws::Instant;
    use sansio_ws::handshake::{HandshakeError, HeadLimits, ServerConfig, ServerHandshake};
    let now = Instant::ZERO;
    // The first bytes of a TLS 1.3 ClientHello record.
    let mut hs = ServerHandshake::new(ServerConfig::default(), now);
    assert_eq!(hs.handle_input(&[0x16, 0x03, 0x01, 0x02, 0x00]), Err(HandshakeError::TlsOnPlainText));
    let mut out = Vec::new();
    HandshakeError::TlsOnPlainText.write_response(&mut out);
    assert!(out.is_empty());
    assert_eq!(hs.handle_input(b"GET / HTTP/1.1\r\n"), Err(HandshakeError::TlsOnPlainText), "it stays failed");

    for noise in [&b"\x00\x01\x02"[..], b"\r\n", b" GET", b"GET\x00", b"G\xffT /"] {
        let mut hs = ServerHandshake::new(ServerConfig::default(), now);
        assert_eq!(hs.handle_input(noise), Err(HandshakeError::NotHttp), "{noise:?}");
        assert_eq!(HandshakeError::NotHttp.status(), 400);
    }
    // One byte at a time: the first impossible byte decides.
    let mut hs = ServerHandshake::new(ServerConfig::default(), now);
    assert_eq!(hs.handle_input(b"G"), Ok(None));
    assert_eq!(hs.handle_input(b"E"), Ok(None));
    assert_eq!(hs.handle_input(b"\x01"), Err(HandshakeError::NotHttp));
    // A method token longer than any HTTP method, still without a space.
    let mut hs = ServerHandshake::new(ServerConfig::default(), now);
    assert_eq!(hs.handle_input(&[b'A'; 24]), Ok(None));
    assert_eq!(hs.handle_input(b"A"), Err(HandshakeError::NotHttp));
    // Only bytes within the head size limit are judged, so the outcome does not depend on how the
    // input is split (a byte past the limit makes the head too large, whatever it is).
    let tiny = || ServerConfig::default().with_limits(HeadLimits::default().with_max_head_size(1));
    let mut whole = ServerHandshake::new(tiny(), now);
    assert_eq!(whole.handle_input(b"G\x01"), Err(HandshakeError::HeadTooLarge { limit: 1 }));
    let mut split = ServerHandshake::new(tiny(), now);
    assert_eq!(split.handle_input(b"G"), Err(HandshakeError::HeadTooLarge { limit: 1 }));
    // A plausible start is left to the parser of the whole head (here a 405 for POST).
    let mut hs = ServerHandshake::new(ServerConfig::default(), now);
    assert_eq!(hs.handle_input(b"POST / HTTP/1.1\r\n"), Ok(None));
}
