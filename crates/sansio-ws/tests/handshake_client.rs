//! Client side of the opening handshake: the request it writes (RFC 6455 §4.1) and every check of
//! the server's response, each response case run on the whole input, byte by byte, and with
//! trailing bytes appended. Also the client/server round trip.

mod common;

// One module named after the feature, so that `cargo test handshake` selects every test here.
mod handshake {
    use std::time::Duration;

    use crate::common::{Fields, MODES, Mode, add, feed_until_value, head, remove, set};
    use sansio_ws::connection::{Config, Event, Message};
    use sansio_ws::deflate::{DeflateConfig, DeflateError, DeflateParams};
    use sansio_ws::handshake::{
        Accept, ClientConfig, ClientHandshake, ClientHandshakeError, DEFAULT_TIMEOUT, Extension, ExtensionFormatError,
        ExtensionParseError, ExtensionParseErrorKind, HeadLimits, OriginPolicy, RejectedResponse, RequestError,
        Response, ServerConfig, ServerHandshake, Upgraded, UrlError, accept_key,
    };
    use sansio_ws::rand::{Randomness, SeededRandom};
    use sansio_ws::{Instant, Role};

    /// Frames a server may send right after its 101: an unmasked text frame "hi", then bytes that
    /// look like another response head and must not be parsed.
    const TRAILING: &[u8] = b"\x81\x02hiHTTP/1.1 101 Switching Protocols\r\n\r\n";

    /// Offers two subprotocols, an extension of its own, and permessage-deflate (the default
    /// configuration's offer, `permessage-deflate; client_max_window_bits`, after the others).
    fn offering_config() -> ClientConfig {
        ClientConfig::default()
            .with_subprotocol("v2.chat")
            .with_subprotocol("chat")
            .with_extension(Extension::new("x-test"))
    }

    /// A handshake to `uri` started at time zero, with a seeded key.
    fn client_to(uri: &str, config: ClientConfig, seed: u64) -> Result<ClientHandshake, RequestError> {
        ClientHandshake::with_randomness(uri, config, Instant::ZERO, Box::new(SeededRandom::new(seed)))
    }

    fn client(config: ClientConfig) -> ClientHandshake {
        client_to("ws://example.com/chat", config, 42).expect("valid")
    }

    /// A valid 101 for `hs`.
    fn good_fields(hs: &ClientHandshake) -> Fields {
        vec![
            ("Upgrade".into(), "websocket".into()),
            ("Connection".into(), "Upgrade".into()),
            ("Sec-WebSocket-Accept".into(), accept_key(hs.key().as_bytes())),
        ]
    }

    /// Feeds `input` (plus [`TRAILING`] in the trailing modes) until the handshake yields its
    /// outcome, and returns it with the bytes after the response: those the `Upgraded` carries,
    /// then the input not fed to the handshake (which goes to the connection).
    fn run(mut hs: ClientHandshake, input: &[u8], mode: Mode) -> (Result<Response, ClientHandshakeError>, Vec<u8>) {
        match feed_until_value(mode, input, TRAILING, |piece| hs.handle_input(piece)) {
            Ok((upgraded, rest)) => {
                assert!(hs.is_done());
                assert_eq!(upgraded.role(), Role::Client);
                assert!(upgraded.response_bytes().is_empty());
                let response = upgraded.server_response().expect("the client's Upgraded has the response").clone();
                assert_eq!(upgraded.subprotocol(), response.subprotocol());
                assert_eq!(upgraded.extensions(), response.extensions());
                // Bytes after the response are the connection's, not the handshake's.
                if !rest.is_empty() {
                    assert_eq!(hs.handle_input(&rest).unwrap_err(), ClientHandshakeError::AlreadyUpgraded);
                }
                let mut trailing = upgraded.trailing().to_vec();
                trailing.extend_from_slice(&rest);
                (Ok(response), trailing)
            }
            Err(e) => (Err(e), Vec::new()),
        }
    }

    type Check = fn(&Response);

    struct Case {
        rule: &'static str,
        config: fn() -> ClientConfig,
        /// Builds the server's answer for the handshake (which knows the key).
        answer: fn(&ClientHandshake) -> Vec<u8>,
        expect: Result<Check, ClientHandshakeError>,
    }

    fn no_check(_: &Response) {}

    fn with(hs: &ClientHandshake, edit: impl FnOnce(&mut Fields)) -> Vec<u8> {
        let mut f = good_fields(hs);
        edit(&mut f);
        head("HTTP/1.1 101 Switching Protocols", &f)
    }

    fn cases() -> Vec<Case> {
        vec![
            // ---- accepted ----
            Case {
                rule: "minimal 101",
                config: ClientConfig::default,
                answer: |hs| with(hs, |_| {}),
                expect: Ok(|r| {
                    assert_eq!(r.status(), 101);
                    assert_eq!(r.subprotocol(), None);
                    assert!(r.extensions().is_empty());
                    assert_eq!(r.headers().len(), 3);
                }),
            },
            Case {
                rule: "Upgrade and Connection are case-insensitive",
                config: ClientConfig::default,
                answer: |hs| {
                    with(hs, |f| {
                        set(f, "upgrade", "WebSocket");
                        set(f, "CONNECTION", "keep-alive, UPGRADE");
                    })
                },
                expect: Ok(no_check),
            },
            Case {
                rule: "Accept ignores surrounding whitespace",
                config: ClientConfig::default,
                answer: |hs| {
                    let v = format!("  {}\t", accept_key(hs.key().as_bytes()));
                    with(hs, |f| set(f, "Sec-WebSocket-Accept", &v))
                },
                expect: Ok(no_check),
            },
            Case {
                rule: "any reason phrase",
                config: ClientConfig::default,
                answer: |hs| head("HTTP/1.1 101 Whatever", &good_fields(hs)),
                expect: Ok(no_check),
            },
            Case {
                rule: "offered subprotocol chosen",
                config: offering_config,
                answer: |hs| with(hs, |f| add(f, "Sec-WebSocket-Protocol", "chat")),
                expect: Ok(|r| {
                    assert_eq!(r.subprotocol(), Some("chat"));
                    assert_eq!(r.header("sec-websocket-protocol"), Some("chat"));
                }),
            },
            Case {
                rule: "offered extension accepted with parameters",
                config: offering_config,
                answer: |hs| {
                    with(hs, |f| {
                        add(f, "Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=\"10\"")
                    })
                },
                expect: Ok(|r| {
                    assert_eq!(
                        r.extensions(),
                        [Extension::new("permessage-deflate").with_value("server_max_window_bits", "10")]
                    );
                }),
            },
            Case {
                rule: "several extensions across repeated fields",
                config: offering_config,
                answer: |hs| {
                    with(hs, |f| {
                        add(f, "Sec-WebSocket-Extensions", "x-test");
                        add(f, "Sec-WebSocket-Extensions", "permessage-deflate");
                    })
                },
                expect: Ok(|r| {
                    assert_eq!(r.extensions(), [Extension::new("x-test"), Extension::new("permessage-deflate")]);
                }),
            },
            // ---- not 101 ----
            Case {
                rule: "200 is not an upgrade",
                config: ClientConfig::default,
                answer: |_| b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".to_vec(),
                expect: Err(ClientHandshakeError::Rejected(RejectedResponse {
                    status: 200,
                    reason: "OK".into(),
                    headers: {
                        let mut h = sansio_ws::handshake::Headers::new();
                        h.push("Content-Length", "2");
                        h
                    },
                })),
            },
            Case {
                rule: "redirect carries its Location",
                config: ClientConfig::default,
                answer: |_| b"HTTP/1.1 301 Moved Permanently\r\nLocation: wss://example.com/chat\r\n\r\n".to_vec(),
                expect: Err(ClientHandshakeError::Rejected(RejectedResponse {
                    status: 301,
                    reason: "Moved Permanently".into(),
                    headers: {
                        let mut h = sansio_ws::handshake::Headers::new();
                        h.push("Location", "wss://example.com/chat");
                        h
                    },
                })),
            },
            Case {
                rule: "426 from a server of another version",
                config: ClientConfig::default,
                answer: |_| b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 8\r\n\r\n".to_vec(),
                expect: Err(ClientHandshakeError::Rejected(RejectedResponse {
                    status: 426,
                    reason: "Upgrade Required".into(),
                    headers: {
                        let mut h = sansio_ws::handshake::Headers::new();
                        h.push("Sec-WebSocket-Version", "8");
                        h
                    },
                })),
            },
            // ---- 101 checks ----
            Case {
                rule: "HTTP/1.1 or later",
                config: ClientConfig::default,
                answer: |hs| head("HTTP/1.0 101 Switching Protocols", &good_fields(hs)),
                expect: Err(ClientHandshakeError::UnsupportedHttpVersion),
            },
            Case {
                rule: "Upgrade is required",
                config: ClientConfig::default,
                answer: |hs| with(hs, |f| remove(f, "Upgrade")),
                expect: Err(ClientHandshakeError::MissingUpgrade),
            },
            Case {
                rule: "Upgrade must be websocket",
                config: ClientConfig::default,
                answer: |hs| with(hs, |f| set(f, "Upgrade", "h2c")),
                expect: Err(ClientHandshakeError::MissingUpgrade),
            },
            Case {
                rule: "Upgrade must be only websocket",
                config: ClientConfig::default,
                answer: |hs| with(hs, |f| set(f, "Upgrade", "websocket, h2c")),
                expect: Err(ClientHandshakeError::MissingUpgrade),
            },
            Case {
                rule: "Connection is required",
                config: ClientConfig::default,
                answer: |hs| with(hs, |f| remove(f, "Connection")),
                expect: Err(ClientHandshakeError::MissingConnectionUpgrade),
            },
            Case {
                rule: "Connection must contain Upgrade",
                config: ClientConfig::default,
                answer: |hs| with(hs, |f| set(f, "Connection", "keep-alive")),
                expect: Err(ClientHandshakeError::MissingConnectionUpgrade),
            },
            Case {
                rule: "Sec-WebSocket-Accept is required",
                config: ClientConfig::default,
                answer: |hs| with(hs, |f| remove(f, "Sec-WebSocket-Accept")),
                expect: Err(ClientHandshakeError::MissingAccept),
            },
            Case {
                rule: "Sec-WebSocket-Accept must match the key",
                config: ClientConfig::default,
                answer: |hs| with(hs, |f| set(f, "Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")),
                expect: Err(ClientHandshakeError::WrongAccept),
            },
            Case {
                rule: "Sec-WebSocket-Accept is case-sensitive",
                config: ClientConfig::default,
                answer: |hs| {
                    let v = accept_key(hs.key().as_bytes()).to_ascii_lowercase();
                    with(hs, |f| set(f, "Sec-WebSocket-Accept", &v))
                },
                expect: Err(ClientHandshakeError::WrongAccept),
            },
            Case {
                rule: "Sec-WebSocket-Accept at most once",
                config: ClientConfig::default,
                answer: |hs| {
                    let v = accept_key(hs.key().as_bytes());
                    with(hs, |f| add(f, "Sec-WebSocket-Accept", &v))
                },
                expect: Err(ClientHandshakeError::RepeatedHeader { name: "Sec-WebSocket-Accept" }),
            },
            Case {
                rule: "subprotocol must have been offered",
                config: offering_config,
                answer: |hs| with(hs, |f| add(f, "Sec-WebSocket-Protocol", "superchat")),
                expect: Err(ClientHandshakeError::SubprotocolNotOffered { protocol: "superchat".into() }),
            },
            Case {
                rule: "subprotocol when none was offered",
                config: ClientConfig::default,
                answer: |hs| with(hs, |f| add(f, "Sec-WebSocket-Protocol", "chat")),
                expect: Err(ClientHandshakeError::SubprotocolNotOffered { protocol: "chat".into() }),
            },
            Case {
                rule: "subprotocol match is exact",
                config: offering_config,
                answer: |hs| with(hs, |f| add(f, "Sec-WebSocket-Protocol", "CHAT")),
                expect: Err(ClientHandshakeError::SubprotocolNotOffered { protocol: "CHAT".into() }),
            },
            Case {
                rule: "only one subprotocol",
                config: offering_config,
                answer: |hs| with(hs, |f| add(f, "Sec-WebSocket-Protocol", "chat, v2.chat")),
                expect: Err(ClientHandshakeError::SubprotocolNotOffered { protocol: "chat, v2.chat".into() }),
            },
            Case {
                rule: "subprotocol field at most once",
                config: offering_config,
                answer: |hs| {
                    with(hs, |f| {
                        add(f, "Sec-WebSocket-Protocol", "chat");
                        add(f, "Sec-WebSocket-Protocol", "chat");
                    })
                },
                expect: Err(ClientHandshakeError::RepeatedHeader { name: "Sec-WebSocket-Protocol" }),
            },
            Case {
                rule: "extension must have been offered",
                config: offering_config,
                answer: |hs| with(hs, |f| add(f, "Sec-WebSocket-Extensions", "x-other")),
                expect: Err(ClientHandshakeError::ExtensionNotOffered { name: "x-other".into() }),
            },
            Case {
                rule: "extension when none was offered",
                config: || ClientConfig::default().with_deflate(None),
                answer: |hs| with(hs, |f| add(f, "Sec-WebSocket-Extensions", "permessage-deflate")),
                expect: Err(ClientHandshakeError::ExtensionNotOffered { name: "permessage-deflate".into() }),
            },
            Case {
                rule: "extension used at most once",
                config: offering_config,
                answer: |hs| with(hs, |f| add(f, "Sec-WebSocket-Extensions", "permessage-deflate, permessage-deflate")),
                expect: Err(ClientHandshakeError::DuplicateExtension { name: "permessage-deflate".into() }),
            },
            Case {
                rule: "extensions follow §9.1",
                config: offering_config,
                answer: |hs| with(hs, |f| add(f, "Sec-WebSocket-Extensions", "x-test; a=\"b c\"")),
                expect: Err(ClientHandshakeError::InvalidExtensions(ExtensionParseError {
                    offset: 10,
                    kind: ExtensionParseErrorKind::QuotedValueNotToken,
                })),
            },
            // ---- syntax and bounds ----
            Case {
                rule: "status line must be valid",
                config: ClientConfig::default,
                answer: |_| b"HTTP/1.1 1O1 Switching\r\n\r\n".to_vec(),
                expect: Err(ClientHandshakeError::Malformed { what: "invalid status line" }),
            },
            Case {
                rule: "not HTTP at all",
                config: ClientConfig::default,
                answer: |_| b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec(),
                expect: Err(ClientHandshakeError::Malformed { what: "invalid HTTP version" }),
            },
            Case {
                rule: "response head larger than 16 KiB",
                config: ClientConfig::default,
                answer: |hs| with(hs, |f| add(f, "X-Big", &"b".repeat(20 * 1024))),
                expect: Err(ClientHandshakeError::HeadTooLarge { limit: 16 * 1024 }),
            },
            Case {
                rule: "100 header fields",
                config: ClientConfig::default,
                answer: |hs| {
                    with(hs, |f| {
                        for i in 0..97 {
                            add(f, &format!("X-{i}"), "1");
                        }
                    })
                },
                expect: Err(ClientHandshakeError::TooManyHeaders { limit: 64 }),
            },
            Case {
                rule: "configured header limit",
                config: || {
                    ClientConfig::default()
                        .with_limits(HeadLimits::default().with_max_head_size(1024).with_max_headers(2))
                },
                answer: |hs| with(hs, |_| {}),
                expect: Err(ClientHandshakeError::TooManyHeaders { limit: 2 }),
            },
        ]
    }

    #[test]
    fn table_every_rule_every_way() {
        let cases = cases();
        assert!(cases.len() >= 30);
        for case in &cases {
            let mut first = None;
            for mode in MODES {
                let hs = client((case.config)());
                let answer = (case.answer)(&hs);
                let (outcome, trailing) = run(hs, &answer, mode);
                match (&outcome, &case.expect) {
                    (Ok(r), Ok(check)) => {
                        check(r);
                        let expected: &[u8] = if mode.with_trailing() { TRAILING } else { b"" };
                        assert_eq!(trailing, expected, "{}: {mode:?} trailing", case.rule);
                    }
                    (Err(e), Err(expected)) => {
                        assert_eq!(e, expected, "{}: {mode:?}", case.rule);
                        assert!(!e.to_string().is_empty());
                    }
                    (got, _) => panic!("{}: {mode:?}: unexpected {got:?}", case.rule),
                }
                match &first {
                    None => first = Some(outcome),
                    Some(f) => assert_eq!(f, &outcome, "{}: {mode:?} differs", case.rule),
                }
            }
        }
    }

    #[test]
    fn redirect_location_and_status() {
        let mut hs = client(ClientConfig::default());
        let err = hs.handle_input(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: ws://b.example/\r\n\r\n").unwrap_err();
        assert_eq!(err.location(), Some("ws://b.example/"));
        assert_eq!(err.rejected_status(), Some(307));
        // A Location on a non-redirect is not a redirect.
        let mut hs = client(ClientConfig::default());
        let err = hs.handle_input(b"HTTP/1.1 401 Unauthorized\r\nLocation: /login\r\n\r\n").unwrap_err();
        assert_eq!(err.location(), None);
        assert_eq!(err.rejected_status(), Some(401));
        assert_eq!(ClientHandshakeError::WrongAccept.rejected_status(), None);
    }

    #[test]
    fn request_bytes() {
        // The default configuration offers permessage-deflate.
        let config = ClientConfig::default()
            .with_origin("http://example.com")
            .with_subprotocol("chat")
            .with_subprotocol("superchat")
            .with_header("Authorization", "Bearer abc");
        let hs = client_to("ws://example.com:8080/chat?room=1", config, 7).unwrap();

        let mut raw = [0u8; 16];
        SeededRandom::new(7).fill(&mut raw);
        let key = base64_of(&raw);
        assert_eq!(hs.key(), key);

        let mut out = b"x".to_vec();
        hs.write_request(&mut out);
        let expected = format!(
            "xGET /chat?room=1 HTTP/1.1\r\n\
             Host: example.com:8080\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\n\
             Sec-WebSocket-Version: 13\r\n\
             Origin: http://example.com\r\n\
             Sec-WebSocket-Protocol: chat, superchat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
             Authorization: Bearer abc\r\n\
             \r\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert_eq!(hs.target().port(), 8080);
    }

    /// Standard base64 with padding, written out here so the test does not share the crate's encoder.
    fn base64_of(bytes: &[u8]) -> String {
        const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    s.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
                } else {
                    s.push('=');
                }
            }
        }
        s
    }

    #[test]
    fn keys_differ_per_handshake_and_decode_to_16_bytes() {
        // The operating system's generator, as `new` uses.
        let a = ClientHandshake::new("ws://h/", ClientConfig::default(), Instant::ZERO).unwrap();
        let b = ClientHandshake::new("ws://h/", ClientConfig::default(), Instant::ZERO).unwrap();
        assert_ne!(a.key(), b.key());
        for k in [a.key(), b.key()] {
            assert_eq!(k.len(), 24);
            assert!(k.ends_with("=="));
        }
    }

    #[test]
    fn host_header_port_only_when_not_default() {
        let cases = [
            ("ws://h.example/", "h.example"),
            ("ws://h.example:80/", "h.example"),
            ("ws://h.example:443/", "h.example:443"),
            ("wss://h.example:443/", "h.example"),
            ("wss://h.example:80/", "h.example:80"),
            ("ws://[::1]:9001/", "[::1]:9001"),
            ("wss://[2001:db8::1]/", "[2001:db8::1]"),
        ];
        for (uri, host) in cases {
            let hs = client_to(uri, ClientConfig::default(), 1).unwrap();
            let mut out = Vec::new();
            hs.write_request(&mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(&format!("\r\nHost: {host}\r\n")), "{uri}: {text}");
        }
    }

    #[test]
    fn request_errors_are_local() {
        let cases: Vec<(&str, ClientConfig, RequestError)> = vec![
            (
                "http://h/",
                ClientConfig::default(),
                RequestError::Url(UrlError::UnsupportedScheme { scheme: "http".into() }),
            ),
            ("ws://h/#f", ClientConfig::default(), RequestError::Url(UrlError::Fragment)),
            ("ws://u@h/", ClientConfig::default(), RequestError::Url(UrlError::UserInfo)),
            ("ws:///x", ClientConfig::default(), RequestError::Url(UrlError::EmptyHost)),
            (
                "ws://h:70000/",
                ClientConfig::default(),
                RequestError::Url(UrlError::InvalidPort { port: "70000".into() }),
            ),
            (
                "ws://h/",
                ClientConfig::default().with_header("Bad Name", "v"),
                RequestError::InvalidHeaderName { name: "Bad Name".into() },
            ),
            (
                "ws://h/",
                ClientConfig::default().with_header("X-A", "v\r\nX-Injected: 1"),
                RequestError::InvalidHeaderValue { name: "X-A".into() },
            ),
            (
                "ws://h/",
                ClientConfig::default().with_header("sec-websocket-key", "x"),
                RequestError::ReservedHeader { name: "sec-websocket-key".into() },
            ),
            (
                "ws://h/",
                ClientConfig::default().with_header("Host", "x"),
                RequestError::ReservedHeader { name: "Host".into() },
            ),
            (
                "ws://h/",
                ClientConfig::default().with_origin("http://a\nb"),
                RequestError::InvalidHeaderValue { name: "Origin".into() },
            ),
            (
                "ws://h/",
                ClientConfig::default().with_subprotocol("a b"),
                RequestError::InvalidSubprotocol { protocol: "a b".into() },
            ),
            (
                "ws://h/",
                ClientConfig::default().with_subprotocol(""),
                RequestError::InvalidSubprotocol { protocol: "".into() },
            ),
            (
                "ws://h/",
                ClientConfig::default().with_subprotocol("chat").with_subprotocol("chat"),
                RequestError::DuplicateSubprotocol { protocol: "chat".into() },
            ),
            (
                "ws://h/",
                ClientConfig::default().with_extension(Extension::new("bad name")),
                RequestError::InvalidExtension(ExtensionFormatError::InvalidName { name: "bad name".into() }),
            ),
            (
                "ws://h/",
                ClientConfig::default().with_extension(Extension::new("permessage-deflate")),
                RequestError::DeflateInExtensions,
            ),
            (
                "ws://h/",
                ClientConfig::default()
                    .with_deflate(None)
                    .with_extension(Extension::new("x-a"))
                    .with_extension(Extension::new("PerMessage-Deflate").with_flag("client_max_window_bits")),
                RequestError::DeflateInExtensions,
            ),
        ];
        for (uri, config, expected) in cases {
            let err = client_to(uri, config, 1).unwrap_err();
            assert_eq!(err, expected, "{uri}");
            assert!(!err.to_string().is_empty());
        }
    }

    /// The bytes that came with the response are the `Upgraded`'s trailing bytes; input given to
    /// the handshake after that is refused (it belongs to the connection), and nothing changes.
    #[test]
    fn input_after_the_upgrade_is_refused_and_the_trailing_bytes_kept() {
        let mut hs = client(ClientConfig::default());
        let mut answer = with(&hs, |_| {});
        answer.extend_from_slice(b"\x81");
        let upgraded = hs.handle_input(&answer).unwrap().expect("upgraded");
        assert!(hs.is_done());
        assert_eq!(upgraded.trailing(), b"\x81");
        assert_eq!(hs.handle_input(b"\x00").unwrap_err(), ClientHandshakeError::AlreadyUpgraded);
        assert_eq!(hs.handle_input(b"").unwrap_err(), ClientHandshakeError::AlreadyUpgraded);
        assert_eq!(hs.handle_input(&answer).unwrap_err(), ClientHandshakeError::AlreadyUpgraded);
        assert!(hs.is_done());
        assert!(!ClientHandshakeError::AlreadyUpgraded.to_string().is_empty());
        // The connection takes the trailing byte and the rest.
        let mut conn = upgraded.into_connection(Config::default(), Instant::ZERO);
        assert_eq!(conn.poll_event(), None, "half a frame so far");
        conn.handle_input(Instant::ZERO, b"\x00");
        assert_eq!(conn.poll_event(), Some(Event::Message(Message::Text("".into()))));
    }

    #[test]
    fn handle_input_yields_an_upgraded_that_becomes_the_connection() {
        let mut hs = client(offering_config());
        let mut answer = with(&hs, |f| {
            add(f, "Sec-WebSocket-Protocol", "chat");
            add(f, "Set-Cookie", "id=7");
        });
        answer.extend_from_slice(b"\x81\x02hi");
        let upgraded = hs.handle_input(&answer).unwrap().expect("upgraded");
        assert_eq!(upgraded.role(), Role::Client);
        assert!(upgraded.response_bytes().is_empty(), "nothing for the client to write");
        let response = upgraded.server_response().expect("the server's response");
        assert_eq!(response.status(), 101);
        assert_eq!(response.header("set-cookie"), Some("id=7"));
        assert_eq!(upgraded.subprotocol(), Some("chat"));
        assert!(upgraded.extensions().is_empty());
        assert_eq!(upgraded.deflate(), None, "offered, not accepted");
        assert_eq!(upgraded.trailing(), b"\x81\x02hi");
        let mut conn = upgraded.into_connection(Config::default(), Instant::from_secs(3));
        assert_eq!(conn.role(), Role::Client);
        assert!(!conn.is_deflate_enabled());
        assert_eq!(conn.poll_event(), Some(Event::Message(Message::Text("hi".into()))), "the early frame was read");
        // The client masks what it sends, with the generator the key came from.
        conn.send_text("yo").unwrap();
        let mut out = Vec::new();
        while conn.poll_transmit(Instant::from_secs(3), &mut out) > 0 {}
        assert_eq!(&out[..2], &[0x81, 0x82]);
    }

    fn request_text(config: ClientConfig) -> String {
        let hs = client(config);
        let mut out = Vec::new();
        hs.write_request(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_default_config_offers_permessage_deflate() {
        let text = request_text(ClientConfig::default());
        assert!(
            text.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"),
            "{text}"
        );
        // After the extensions of the configuration.
        let text = request_text(ClientConfig::default().with_extension(Extension::new("x-test")));
        assert!(
            text.contains("\r\nSec-WebSocket-Extensions: x-test, permessage-deflate; client_max_window_bits\r\n"),
            "{text}"
        );
        // With the configuration's parameters.
        let deflate = DeflateConfig::default().with_server_no_context_takeover(true).with_server_max_window_bits(10);
        let text = request_text(ClientConfig::default().with_deflate(Some(deflate)));
        assert!(
            text.contains(
                "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
                 server_max_window_bits=10; client_max_window_bits\r\n"
            ),
            "{text}"
        );
        // Not at all.
        let text = request_text(ClientConfig::default().with_deflate(None));
        assert!(!text.to_ascii_lowercase().contains("sec-websocket-extensions"), "{text}");
    }

    #[test]
    fn a_good_deflate_answer_turns_compression_on() {
        let mut hs = client(ClientConfig::default());
        let answer = with(&hs, |f| {
            add(
                f,
                "Sec-WebSocket-Extensions",
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
            )
        });
        let upgraded = hs.handle_input(&answer).unwrap().expect("upgraded");
        let agreed = DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 9,
        };
        assert_eq!(upgraded.deflate(), Some(agreed));
        assert!(upgraded.into_connection(Config::default(), Instant::ZERO).is_deflate_enabled());
    }

    #[test]
    fn a_bad_deflate_answer_fails_the_handshake() {
        let default = DeflateConfig::default();
        let cases = [
            (default, "permessage-deflate; x=1", DeflateError::UnknownParameter("x".into())),
            (
                default,
                "permessage-deflate; client_max_window_bits",
                DeflateError::InvalidValue("client_max_window_bits".into()),
            ),
            (
                default,
                "permessage-deflate; server_max_window_bits=16",
                DeflateError::InvalidValue("server_max_window_bits".into()),
            ),
            (
                default,
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                DeflateError::RepeatedParameter("server_no_context_takeover".into()),
            ),
            (
                default.with_server_max_window_bits(10),
                "permessage-deflate",
                DeflateError::NotOffered("a missing server_max_window_bits".into()),
            ),
            (
                default.with_client_max_window_bits(10),
                "permessage-deflate; client_max_window_bits=12",
                DeflateError::NotOffered("client_max_window_bits=12".into()),
            ),
            (
                default.with_server_no_context_takeover(true),
                "permessage-deflate",
                DeflateError::NotOffered("a missing server_no_context_takeover".into()),
            ),
        ];
        for (config, value, expected) in cases {
            for mode in MODES {
                let hs = client(ClientConfig::default().with_deflate(Some(config)));
                let answer = with(&hs, |f| add(f, "Sec-WebSocket-Extensions", value));
                let (outcome, _) = run(hs, &answer, mode);
                let err = outcome.unwrap_err();
                assert_eq!(err, ClientHandshakeError::Deflate(expected.clone()), "{value} {mode:?}");
                assert!(!err.to_string().is_empty());
                assert!(std::error::Error::source(&err).is_some());
            }
        }
        // Sticky, like every failure.
        let mut hs = client(ClientConfig::default());
        let bad = with(&hs, |f| add(f, "Sec-WebSocket-Extensions", "permessage-deflate; x=1"));
        let e = hs.handle_input(&bad).unwrap_err();
        assert!(matches!(e, ClientHandshakeError::Deflate(_)));
        assert_eq!(hs.handle_input(&with(&hs, |_| {})).unwrap_err(), e);
    }

    #[test]
    fn the_response_must_arrive_before_the_deadline() {
        assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(10));
        let start = Instant::from_secs(1_700_000_000);
        let deadline = start + DEFAULT_TIMEOUT;
        let new = |config: ClientConfig| {
            ClientHandshake::with_randomness("ws://example.com/chat", config, start, Box::new(SeededRandom::new(4)))
                .unwrap()
        };
        let mut hs = new(ClientConfig::default());
        let answer = with(&hs, |_| {});
        assert_eq!(hs.poll_timeout(), Some(deadline));
        // A byte now and then does not push the deadline back.
        assert!(hs.handle_input(&answer[..10]).unwrap().is_none());
        assert_eq!(hs.poll_timeout(), Some(deadline));
        assert_eq!(hs.handle_timeout(start), Ok(()));
        assert_eq!(hs.handle_timeout(start + (DEFAULT_TIMEOUT - Duration::from_millis(1))), Ok(()));
        let err = hs.handle_timeout(deadline).unwrap_err();
        assert_eq!(err, ClientHandshakeError::Timeout { after: DEFAULT_TIMEOUT });
        assert!(err.to_string().contains("10s"), "{err}");
        // The failure is final: the rest of the answer gets the same error, and no deadline is left.
        assert_eq!(hs.handle_input(&answer[10..]).unwrap_err(), err);
        assert_eq!(hs.handle_timeout(deadline + Duration::from_secs(1)), Err(err));
        assert_eq!(hs.poll_timeout(), None);
        assert!(!hs.is_done());

        // Found late (after the deadline) it is the same; the configured timeout applies.
        let two = Duration::from_secs(2);
        let mut hs = new(ClientConfig::default().with_timeout(two));
        assert_eq!(hs.poll_timeout(), Some(start + two));
        assert_eq!(
            hs.handle_timeout(start + Duration::from_secs(3600)),
            Err(ClientHandshakeError::Timeout { after: two })
        );

        // Once the response is complete there is no deadline, and a late timer changes nothing.
        let mut hs = new(ClientConfig::default());
        let answer = with(&hs, |_| {});
        let upgraded = hs.handle_input(&answer).unwrap().expect("upgraded");
        assert_eq!(hs.poll_timeout(), None);
        assert_eq!(hs.handle_timeout(deadline + Duration::from_secs(3600)), Ok(()));
        assert_eq!(upgraded.server_response().map(Response::status), Some(101));
    }

    #[test]
    fn an_error_is_sticky() {
        let mut hs = client(ClientConfig::default());
        let bad = with(&hs, |f| remove(f, "Upgrade"));
        let good = with(&hs, |_| {});
        let e = hs.handle_input(&bad).unwrap_err();
        assert_eq!(hs.handle_input(&good).unwrap_err(), e);
    }

    /// The client's request parsed by the server, the server's answer parsed by the client, with
    /// subprotocol and extension negotiation and early frames in both directions, each side's
    /// `Upgraded` turned into its connection.
    #[test]
    fn round_trip() {
        let config = offering_config().with_origin("http://example.com:9001").with_header("Cookie", "session=1");
        let mut client = client_to("ws://example.com:9001/live?x=1", config, 9).unwrap();
        let mut wire = Vec::new();
        client.write_request(&mut wire);
        let client_frame = b"\x82\x81\x01\x02\x03\x04\x05";
        wire.extend_from_slice(client_frame);

        // The application supports only "chat" and permessage-deflate, with smaller windows.
        let deflate = DeflateConfig::default().with_server_max_window_bits(10).with_client_max_window_bits(12);
        let server_config =
            ServerConfig::default().with_origin_policy(OriginPolicy::SameHost).with_deflate(Some(deflate));
        let mut server = ServerHandshake::new(server_config, Instant::ZERO);
        let mut request = None;
        for piece in wire.chunks(7) {
            if let Some(r) = server.handle_input(piece).unwrap() {
                request = Some(r);
            }
        }
        let request = request.expect("complete");
        assert_eq!(request.path(), "/live");
        assert_eq!(request.query(), Some("x=1"));
        assert_eq!(request.host(), "example.com:9001");
        assert_eq!(request.origin(), Some("http://example.com:9001"));
        assert_eq!(request.key(), client.key());
        assert_eq!(request.header("cookie"), Some("session=1"));
        assert_eq!(request.subprotocols(), ["v2.chat", "chat"]);
        assert_eq!(
            request.extensions(),
            [Extension::new("x-test"), Extension::new("permessage-deflate").with_flag("client_max_window_bits")]
        );

        let mut accept = Accept::new();
        if let Some(p) = request.subprotocols().iter().find(|p| *p == "chat") {
            accept = accept.with_subprotocol(p.clone());
        }
        let server_up = server.accept(&request, accept).unwrap();
        assert_eq!(server_up.trailing(), client_frame);
        let reply = Extension::new("permessage-deflate")
            .with_value("server_max_window_bits", "10")
            .with_value("client_max_window_bits", "12");
        assert_eq!(server_up.extensions(), std::slice::from_ref(&reply));
        let agreed = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 10,
            client_max_window_bits: 12,
        };
        assert_eq!(server_up.deflate(), Some(agreed));
        let mut server_conn = server_up.into_connection(Config::default(), Instant::ZERO);
        assert!(server_conn.is_deflate_enabled());
        // The client's early frame was read: a binary message of one byte, 0x05 ^ 0x01.
        assert_eq!(server_conn.poll_event(), Some(Event::Message(Message::Binary(vec![4u8].into()))));

        // The server's first output: its 101, then a frame sent at once.
        server_conn.send_text("hello").unwrap();
        let mut answer = Vec::new();
        while server_conn.poll_transmit(Instant::ZERO, &mut answer) > 0 {}
        let server_frame = b"\x81\x05hello";
        assert!(answer.ends_with(server_frame), "short messages are not compressed");

        let mut upgraded: Option<Upgraded> = None;
        let mut rest = Vec::new();
        for piece in answer.chunks(5) {
            if upgraded.is_some() {
                // Past the response: the connection's bytes.
                rest.extend_from_slice(piece);
            } else {
                upgraded = client.handle_input(piece).unwrap();
            }
        }
        let upgraded = upgraded.expect("complete");
        let response = upgraded.server_response().expect("the response");
        assert_eq!(response.subprotocol(), Some("chat"));
        assert_eq!(response.extensions(), std::slice::from_ref(&reply));
        assert_eq!(upgraded.subprotocol(), Some("chat"));
        assert_eq!(upgraded.deflate(), Some(agreed));
        assert_eq!([upgraded.trailing(), &rest].concat(), server_frame);
        let mut client_conn = upgraded.into_connection(Config::default(), Instant::ZERO);
        assert!(client_conn.is_deflate_enabled());
        client_conn.handle_input(Instant::ZERO, &rest);
        assert_eq!(client_conn.poll_event(), Some(Event::Message(Message::Text("hello".into()))));
    }

    #[test]
    fn round_trip_refused_by_origin() {
        let config = ClientConfig::default().with_origin("https://evil.example");
        let mut client = client_to("ws://example.com/", config, 2).unwrap();
        let mut wire = Vec::new();
        client.write_request(&mut wire);
        let mut server = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
        let err = server.handle_input(&wire).unwrap_err();
        let mut answer = Vec::new();
        err.write_response(&mut answer);
        let seen = client.handle_input(&answer).unwrap_err();
        assert_eq!(seen.rejected_status(), Some(403));
    }
}
