//! Client side of the opening handshake: the request it writes (RFC 6455 §4.1) and every check of
//! the server's response, each response case run on the whole input, byte by byte, and with
//! trailing bytes appended. Also the client/server round trip.

mod common;

// One module named after the feature, so that `cargo test handshake` selects every test here.
mod handshake {
    use crate::common::{Fields, MODES, Mode, add, feed, head, remove, set};
    use sansio_ws::handshake::{
        Accept, ClientConfig, ClientHandshake, ClientHandshakeError, Extension, ExtensionFormatError,
        ExtensionParseError, ExtensionParseErrorKind, HeadLimits, OriginPolicy, RejectedResponse, RequestError,
        Response, ServerConfig, ServerHandshake, UrlError, accept_key,
    };
    use sansio_ws::rand::{Randomness, SeededRandom};

    /// Frames a server may send right after its 101: an unmasked text frame "hi", then bytes that
    /// look like another response head and must not be parsed.
    const TRAILING: &[u8] = b"\x81\x02hiHTTP/1.1 101 Switching Protocols\r\n\r\n";

    fn offering_config() -> ClientConfig {
        ClientConfig::default()
            .with_subprotocol("v2.chat")
            .with_subprotocol("chat")
            .with_extension(Extension::new("permessage-deflate").with_flag("client_max_window_bits"))
            .with_extension(Extension::new("permessage-deflate"))
            .with_extension(Extension::new("x-test"))
    }

    fn client(config: ClientConfig) -> ClientHandshake {
        ClientHandshake::new("ws://example.com/chat", config, &mut SeededRandom::new(42)).expect("valid")
    }

    /// A valid 101 for `hs`.
    fn good_fields(hs: &ClientHandshake) -> Fields {
        vec![
            ("Upgrade".into(), "websocket".into()),
            ("Connection".into(), "Upgrade".into()),
            ("Sec-WebSocket-Accept".into(), accept_key(hs.key().as_bytes())),
        ]
    }

    fn run(mut hs: ClientHandshake, input: &[u8], mode: Mode) -> (Result<Response, ClientHandshakeError>, Vec<u8>) {
        let outcome = feed(mode, input, TRAILING, |piece| hs.handle_input(piece));
        (outcome, hs.take_trailing().to_vec())
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
                config: ClientConfig::default,
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
                config: || ClientConfig {
                    limits: HeadLimits { max_head_size: 1024, max_headers: 2 },
                    ..Default::default()
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
        let config = ClientConfig::default()
            .with_origin("http://example.com")
            .with_subprotocol("chat")
            .with_subprotocol("superchat")
            .with_extension(Extension::new("permessage-deflate").with_flag("client_max_window_bits"))
            .with_header("Authorization", "Bearer abc");
        let hs = ClientHandshake::new("ws://example.com:8080/chat?room=1", config, &mut SeededRandom::new(7)).unwrap();

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
        let mut rng = SeededRandom::new(1);
        let a = ClientHandshake::new("ws://h/", ClientConfig::default(), &mut rng).unwrap();
        let b = ClientHandshake::new("ws://h/", ClientConfig::default(), &mut rng).unwrap();
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
            let hs = ClientHandshake::new(uri, ClientConfig::default(), &mut SeededRandom::new(1)).unwrap();
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
        ];
        for (uri, config, expected) in cases {
            let err = ClientHandshake::new(uri, config, &mut SeededRandom::new(1)).unwrap_err();
            assert_eq!(err, expected, "{uri}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn input_after_the_response_joins_the_trailing_bytes() {
        let mut hs = client(ClientConfig::default());
        let mut answer = with(&hs, |_| {});
        answer.extend_from_slice(b"\x81");
        assert!(hs.handle_input(&answer).unwrap().is_some());
        assert!(hs.is_done());
        assert_eq!(hs.handle_input(b"\x00"), Ok(None));
        assert_eq!(&hs.take_trailing()[..], b"\x81\x00");
    }

    #[test]
    fn an_error_is_sticky() {
        let mut hs = client(ClientConfig::default());
        let bad = with(&hs, |f| remove(f, "Upgrade"));
        let good = with(&hs, |_| {});
        let e = hs.handle_input(&bad).unwrap_err();
        assert_eq!(hs.handle_input(&good), Err(e));
    }

    /// The client's request parsed by the server, the server's answer parsed by the client, with
    /// subprotocol and extension negotiation and early frames in both directions.
    #[test]
    fn round_trip() {
        let config = offering_config().with_origin("http://example.com:9001").with_header("Cookie", "session=1");
        let mut client =
            ClientHandshake::new("ws://example.com:9001/live?x=1", config, &mut SeededRandom::new(9)).unwrap();
        let mut wire = Vec::new();
        client.write_request(&mut wire);
        let client_frame = b"\x82\x81\x01\x02\x03\x04\x05";
        wire.extend_from_slice(client_frame);

        let mut server =
            ServerHandshake::new(ServerConfig { origin_policy: OriginPolicy::SameHost, ..Default::default() });
        let mut request = None;
        for piece in wire.chunks(7) {
            if let Some(r) = server.handle_input(piece).unwrap() {
                request = Some(r);
            }
        }
        let request = request.expect("complete");
        assert_eq!(&server.take_trailing()[..], client_frame);
        assert_eq!(request.path(), "/live");
        assert_eq!(request.query(), Some("x=1"));
        assert_eq!(request.host(), "example.com:9001");
        assert_eq!(request.origin(), Some("http://example.com:9001"));
        assert_eq!(request.key(), client.key());
        assert_eq!(request.header("cookie"), Some("session=1"));
        assert_eq!(request.subprotocols(), ["v2.chat", "chat"]);
        assert_eq!(
            request.extensions(),
            [
                Extension::new("permessage-deflate").with_flag("client_max_window_bits"),
                Extension::new("permessage-deflate"),
                Extension::new("x-test"),
            ]
        );

        // The application supports only "chat" and permessage-deflate.
        let subprotocol = request.subprotocols().iter().find(|p| *p == "chat").cloned();
        let deflate = request.extensions().iter().find(|e| e.name == "permessage-deflate").expect("offered");
        let mut reply = Extension::new(deflate.name.clone()).with_value("server_max_window_bits", "10");
        if deflate.param("client_max_window_bits").is_some() {
            reply = reply.with_value("client_max_window_bits", "12");
        }
        let accept = Accept { subprotocol, extensions: vec![reply.clone()], headers: vec![] };
        let mut answer = Vec::new();
        request.accept(&accept, &mut answer).unwrap();
        let server_frame = b"\x81\x05hello";
        answer.extend_from_slice(server_frame);

        let mut response = None;
        for piece in answer.chunks(5) {
            if let Some(r) = client.handle_input(piece).unwrap() {
                response = Some(r);
            }
        }
        let response = response.expect("complete");
        assert_eq!(response.subprotocol(), Some("chat"));
        assert_eq!(response.extensions(), [reply]);
        assert_eq!(&client.take_trailing()[..], server_frame);
    }

    #[test]
    fn round_trip_refused_by_origin() {
        let config = ClientConfig::default().with_origin("https://evil.example");
        let mut client = ClientHandshake::new("ws://example.com/", config, &mut SeededRandom::new(2)).unwrap();
        let mut wire = Vec::new();
        client.write_request(&mut wire);
        let mut server = ServerHandshake::new(ServerConfig::default());
        let err = server.handle_input(&wire).unwrap_err();
        let mut answer = Vec::new();
        err.write_response(&mut answer);
        let seen = client.handle_input(&answer).unwrap_err();
        assert_eq!(seen.rejected_status(), Some(403));
    }
}
