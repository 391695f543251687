//! Server side of the opening handshake: every rule of RFC 6455 §4.2.1, accepted and rejected,
//! each case run on the whole input, byte by byte, and with trailing bytes appended.

mod common;

// One module named after the feature, so that `cargo test handshake` selects every test here.
mod handshake {
    use crate::common::{Fields, MODES, Mode, add, feed, head, remove, set};
    use sansio_ws::handshake::{
        Accept, AcceptError, ClientConfig, ClientHandshake, ClientHandshakeError, Extension, ExtensionParseError,
        ExtensionParseErrorKind, HandshakeError, HeadLimits, OriginPolicy, Reject, Request, ServerConfig,
        ServerHandshake,
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
    /// trailing bytes handed on.
    fn run(config: ServerConfig, input: &[u8], mode: Mode) -> (Result<Request, HandshakeError>, Vec<u8>) {
        let mut hs = ServerHandshake::new(config);
        let outcome = feed(mode, input, TRAILING, |piece| hs.handle_input(piece));
        if outcome.is_ok() {
            assert!(hs.is_done());
        }
        (outcome, hs.take_trailing().to_vec())
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
        ServerConfig { origin_policy: OriginPolicy::AllowList(vec!["http://example.com".into()]), ..Default::default() }
    }

    fn any_origin() -> ServerConfig {
        ServerConfig { origin_policy: OriginPolicy::Any, ..Default::default() }
    }

    fn custom_origin() -> ServerConfig {
        ServerConfig {
            origin_policy: OriginPolicy::Custom(std::sync::Arc::new(|o: &str| o.ends_with(".trusted.example"))),
            ..Default::default()
        }
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
                expect: Err(HandshakeError::Malformed { what: "invalid token in the start line" }),
            },
            Case {
                rule: "blank line before the request line",
                input: [&b"\r\n\r\n"[..], &valid_with(|_| {})].concat(),
                config: default_config,
                expect: Err(HandshakeError::Malformed { what: "unexpected blank line" }),
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
                config: || ServerConfig {
                    limits: HeadLimits { max_head_size: 64, max_headers: 64 },
                    ..Default::default()
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

    fn rfc_request() -> Request {
        let mut hs = ServerHandshake::new(allow_rfc_origin());
        hs.handle_input(RFC_REQUEST.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn rfc_example_response_bytes() {
        let mut out = Vec::new();
        rfc_request().accept(&Accept::new().with_subprotocol("chat"), &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), RFC_RESPONSE);
    }

    #[test]
    fn accept_writes_extensions_and_extra_headers() {
        let mut hs = ServerHandshake::new(ServerConfig::default());
        let input = valid_with(|f| add(f, "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"));
        let request = hs.handle_input(&input).unwrap().unwrap();
        let accept = Accept::new()
            .with_extension(Extension::new("permessage-deflate").with_value("client_max_window_bits", "10"))
            .with_header("Set-Cookie", "id=1");
        let mut out = Vec::new();
        request.accept(&accept, &mut out).unwrap();
        let (status, headers, body) = parse_response(&out);
        assert_eq!(status, 101);
        assert!(body.is_empty());
        assert_eq!(field(&headers, "Sec-WebSocket-Extensions"), Some("permessage-deflate; client_max_window_bits=10"));
        assert_eq!(field(&headers, "Set-Cookie"), Some("id=1"));
        assert_eq!(field(&headers, "Sec-WebSocket-Protocol"), None);
    }

    #[test]
    fn accept_misuse_is_a_local_error_and_writes_nothing() {
        let request = rfc_request();
        let cases = [
            (
                Accept::new().with_subprotocol("superchat2"),
                AcceptError::SubprotocolNotOffered { protocol: "superchat2".into() },
            ),
            (Accept::new().with_subprotocol("CHAT"), AcceptError::SubprotocolNotOffered { protocol: "CHAT".into() }),
            (
                Accept::new().with_extension(Extension::new("permessage-deflate")),
                AcceptError::ExtensionNotOffered { name: "permessage-deflate".into() },
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
            let mut out = b"keep".to_vec();
            assert_eq!(request.accept(&accept, &mut out), Err(expected.clone()));
            assert_eq!(out, b"keep", "{expected}");
            assert!(!expected.to_string().is_empty());
        }
    }

    #[test]
    fn accept_extension_checks() {
        let mut hs = ServerHandshake::new(ServerConfig::default());
        let input = valid_with(|f| add(f, "Sec-WebSocket-Extensions", "x-a, x-b"));
        let request = hs.handle_input(&input).unwrap().unwrap();
        let mut out = Vec::new();
        let twice = Accept::new().with_extension(Extension::new("x-a")).with_extension(Extension::new("X-A"));
        assert_eq!(request.accept(&twice, &mut out), Err(AcceptError::DuplicateExtension { name: "X-A".into() }));
        let bad_value = Accept::new().with_extension(Extension::new("x-b").with_value("p", "\u{1}"));
        assert!(matches!(request.accept(&bad_value, &mut out), Err(AcceptError::InvalidExtension(_))));
        assert!(out.is_empty());
        let both =
            Accept::new().with_extension(Extension::new("x-b")).with_extension(Extension::new("x-a").with_flag("f"));
        request.accept(&both, &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("\r\nSec-WebSocket-Extensions: x-b, x-a; f\r\n"));
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
        let mut client =
            ClientHandshake::new("ws://example.com/chat", ClientConfig::default(), &mut SeededRandom::new(3))
                .expect("valid");
        let err = client.handle_input(&out).unwrap_err();
        assert_eq!(err.location(), Some("ws://other.example/chat"));
        assert_eq!(err.rejected_status(), Some(302));
        let ClientHandshakeError::Rejected(r) = err else { panic!() };
        assert_eq!(r.reason, "Found");
    }

    #[test]
    fn input_after_the_request_joins_the_trailing_bytes() {
        let mut hs = ServerHandshake::new(ServerConfig::default());
        let mut input = valid_with(|_| {});
        input.extend_from_slice(b"ab");
        assert!(hs.handle_input(&input).unwrap().is_some());
        assert!(hs.handle_input(b"cd").unwrap().is_none());
        assert_eq!(&hs.take_trailing()[..], b"abcd");
        assert!(hs.take_trailing().is_empty());
        assert!(hs.handle_input(b"e").unwrap().is_none());
        assert_eq!(&hs.take_trailing()[..], b"e");
    }

    #[test]
    fn an_error_is_sticky() {
        let mut hs = ServerHandshake::new(ServerConfig::default());
        let e = hs.handle_input(&valid_start("PUT / HTTP/1.1")).unwrap_err();
        assert_eq!(hs.handle_input(&valid_with(|_| {})), Err(e));
        assert!(!hs.is_done());
    }

    #[test]
    fn partial_input_is_not_an_error() {
        let mut hs = ServerHandshake::new(ServerConfig::default());
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
        let mut hs = ServerHandshake::new(ServerConfig::default());
        let (last, rest) = input.split_last().unwrap();
        for b in rest {
            assert_eq!(hs.handle_input(std::slice::from_ref(b)), Ok(None));
        }
        let request = hs.handle_input(&[*last]).unwrap().expect("complete at the last byte");
        assert_eq!(request.header("x-pad").map(str::len), Some(missing));

        // One byte more and it is refused.
        let input = valid_with(|f| add(f, "X-Pad", &"p".repeat(missing + 1)));
        let mut hs = ServerHandshake::new(ServerConfig::default());
        let err = input.iter().find_map(|b| hs.handle_input(std::slice::from_ref(b)).err()).unwrap();
        assert_eq!(err.status(), 431);
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
        ];
        for (e, needle) in samples {
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}

#[test]
fn a_plain_get_exposes_its_path_for_serving_a_page() {
    use sansio_ws::handshake::{HandshakeError, Reject, ServerConfig, ServerHandshake};
    let mut hs = ServerHandshake::new(ServerConfig::default());
    let err = hs.handle_input(b"GET /index.html?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n").unwrap_err();
    assert_eq!(err, HandshakeError::MissingUpgrade);
    assert_eq!(hs.plain_http_path(), Some("/index.html"));
    let mut out = Vec::new();
    Reject::new(200).with_header("Content-Type", "text/html").with_body("<p>hi</p>").write(&mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200 "));

    // An Upgrade to something else is not a plain GET; a bad WebSocket request is not either.
    let mut hs = ServerHandshake::new(ServerConfig::default());
    hs.handle_input(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n").unwrap_err();
    assert_eq!(hs.plain_http_path(), None);
    let mut hs = ServerHandshake::new(ServerConfig::default());
    hs.handle_input(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").unwrap_err();
    assert_eq!(hs.plain_http_path(), None);
}
