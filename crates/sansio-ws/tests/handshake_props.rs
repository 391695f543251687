//! Property tests of the opening handshake: any split of the input gives the same result, and no
//! input makes the readers panic.

// One module named after the feature, so that `cargo test handshake` selects every test here.
mod handshake {
    use proptest::prelude::*;
    use sansio_ws::Instant;
    use sansio_ws::handshake::{
        Accept, ClientConfig, ClientHandshake, ClientHandshakeError, Extension, ExtensionParam, HandshakeError,
        OriginPolicy, Request, Response, ServerConfig, ServerHandshake, Target, accept_key, parse_extensions,
        write_extensions,
    };
    use sansio_ws::rand::SeededRandom;

    const REQUESTS: [&str; 3] = [
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /a?b=c HTTP/1.1\r\nhost: h:81\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-y;p=\"v\"\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    ];

    fn server_config() -> ServerConfig {
        ServerConfig::default().with_origin_policy(OriginPolicy::AllowList(vec!["http://example.com".into()]))
    }

    type ServerOutcome = Option<Result<Request, HandshakeError>>;

    /// Feeds `input` split at `cuts`, returning the first non-partial outcome and the trailing bytes
    /// (those of the `Upgraded` that accepting the request gives).
    fn feed_server(input: &[u8], cuts: &[usize]) -> (ServerOutcome, Vec<u8>) {
        let mut hs = ServerHandshake::new(server_config(), Instant::ZERO);
        let mut outcome = None;
        for piece in pieces(input, cuts) {
            match hs.handle_input(piece) {
                Ok(None) => {}
                Ok(Some(r)) => outcome = Some(Ok(r)),
                Err(e) => {
                    outcome = Some(Err(e));
                    break;
                }
            }
        }
        let trailing = match &outcome {
            Some(Ok(request)) => hs.accept(request, Accept::new()).expect("a plain accept").trailing().to_vec(),
            _ => Vec::new(),
        };
        (outcome, trailing)
    }

    fn pieces<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut start = 0;
        for c in cuts {
            out.push(&input[start..c]);
            start = c;
        }
        out.push(&input[start..]);
        out
    }

    fn client() -> ClientHandshake {
        // The default configuration offers `permessage-deflate; client_max_window_bits`.
        let config = ClientConfig::default().with_subprotocol("chat");
        ClientHandshake::with_randomness("ws://example.com/chat", config, Instant::ZERO, Box::new(SeededRandom::new(5)))
            .unwrap()
    }

    fn responses(hs: &ClientHandshake) -> [String; 3] {
        let accept = accept_key(hs.key().as_bytes());
        [
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\r\n"
            ),
            format!(
                "HTTP/1.1 101 OK\r\nupgrade: WEBSOCKET\r\nconnection: upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
            ),
            "HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n".to_string(),
        ]
    }

    type ClientOutcome = Option<Result<Response, ClientHandshakeError>>;

    /// Feeds `input` split at `cuts` until the handshake's outcome, returning it and the bytes after
    /// the response: the `Upgraded`'s trailing bytes, then the pieces not given to the handshake
    /// (they belong to the connection).
    fn feed_client(input: &[u8], cuts: &[usize]) -> (ClientOutcome, Vec<u8>) {
        let mut hs = client();
        let mut outcome = None;
        let mut trailing = Vec::new();
        for piece in pieces(input, cuts) {
            if let Some(Ok(_)) = outcome {
                trailing.extend_from_slice(piece);
                continue;
            }
            match hs.handle_input(piece) {
                Ok(None) => {}
                Ok(Some(upgraded)) => {
                    trailing = upgraded.trailing().to_vec();
                    outcome = Some(Ok(upgraded.server_response().expect("the response").clone()));
                }
                Err(e) => {
                    outcome = Some(Err(e));
                    break;
                }
            }
        }
        (outcome, trailing)
    }

    fn token() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,10}"
    }

    fn extension() -> impl Strategy<Value = Extension> {
        (token(), prop::collection::vec((token(), prop::option::of(token())), 0..4)).prop_map(|(name, params)| {
            Extension { name, params: params.into_iter().map(|(name, value)| ExtensionParam { name, value }).collect() }
        })
    }

    proptest! {
        #[test]
        fn server_split_points_do_not_matter(
            which in 0..REQUESTS.len(),
            trailing in prop::collection::vec(any::<u8>(), 0..64),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            let mut input = REQUESTS[which].as_bytes().to_vec();
            input.extend_from_slice(&trailing);
            let whole = feed_server(&input, &[]);
            let split = feed_server(&input, &cuts);
            prop_assert!(whole.0.is_some());
            if let Some(Ok(_)) = &whole.0 {
                prop_assert_eq!(&whole.1, &trailing);
            }
            prop_assert_eq!(whole, split);
        }

        #[test]
        fn client_split_points_do_not_matter(
            which in 0..3usize,
            trailing in prop::collection::vec(any::<u8>(), 0..64),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            let mut input = responses(&client())[which].as_bytes().to_vec();
            input.extend_from_slice(&trailing);
            let whole = feed_client(&input, &[]);
            let split = feed_client(&input, &cuts);
            prop_assert!(whole.0.is_some());
            if let Some(Ok(_)) = &whole.0 {
                prop_assert_eq!(&whole.1, &trailing);
            }
            prop_assert_eq!(whole, split);
        }

        #[test]
        fn server_arbitrary_bytes_never_panic(
            input in prop::collection::vec(any::<u8>(), 0..2048),
            cuts in prop::collection::vec(any::<usize>(), 0..16),
        ) {
            let whole = feed_server(&input, &[]);
            let split = feed_server(&input, &cuts);
            if let Some(Err(e)) = &whole.0 {
                let mut out = Vec::new();
                e.write_response(&mut out);
                if *e == HandshakeError::TlsOnPlainText {
                    // A TLS client cannot read an HTTP answer: nothing is written.
                    prop_assert!(out.is_empty());
                } else {
                    let expected_prefix = format!("HTTP/1.1 {} ", e.status());
                    prop_assert!(out.starts_with(expected_prefix.as_bytes()));
                }
            }
            prop_assert_eq!(whole, split);
        }

        #[test]
        fn server_mutated_requests_never_panic(
            which in 0..REQUESTS.len(),
            edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cuts in prop::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut input = REQUESTS[which].as_bytes().to_vec();
            let len = input.len();
            for (at, byte) in edits {
                input[at % len] = byte;
            }
            prop_assert_eq!(feed_server(&input, &[]), feed_server(&input, &cuts));
        }

        #[test]
        fn client_arbitrary_bytes_never_panic(
            input in prop::collection::vec(any::<u8>(), 0..2048),
            cuts in prop::collection::vec(any::<usize>(), 0..16),
        ) {
            prop_assert_eq!(feed_client(&input, &[]), feed_client(&input, &cuts));
        }

        #[test]
        fn client_mutated_responses_never_panic(
            which in 0..3usize,
            edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cuts in prop::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut input = responses(&client())[which].as_bytes().to_vec();
            let len = input.len();
            for (at, byte) in edits {
                input[at % len] = byte;
            }
            prop_assert_eq!(feed_client(&input, &[]), feed_client(&input, &cuts));
        }

        #[test]
        fn extension_lists_round_trip(list in prop::collection::vec(extension(), 1..5)) {
            let mut s = String::new();
            write_extensions(&list, &mut s).unwrap();
            prop_assert_eq!(parse_extensions(s.as_bytes()).unwrap(), list);
        }

        #[test]
        fn extension_parser_never_panics(input in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(list) = parse_extensions(&input) {
                // Whatever parses is written back in a form that parses to the same list.
                let mut s = String::new();
                write_extensions(&list, &mut s).unwrap();
                prop_assert_eq!(parse_extensions(s.as_bytes()).unwrap(), list);
            }
        }

        #[test]
        fn target_parser_never_panics(uri in "\\PC{0,64}", ws in "(?i)wss?://[a-z0-9.:\\[\\]@#/?%-]{0,40}") {
            let _ = Target::parse(&uri);
            if let Ok(t) = Target::parse(&ws) {
                prop_assert!(t.port() != 0);
                prop_assert!(t.path().starts_with('/'));
                // The Host header a client sends is one the server accepts as host[:port].
                let hs = ClientHandshake::with_randomness(
                    &ws, ClientConfig::default(), Instant::ZERO, Box::new(SeededRandom::new(1)),
                ).unwrap();
                let mut request = Vec::new();
                hs.write_request(&mut request);
                let mut server = ServerHandshake::new(ServerConfig::default(), Instant::ZERO);
                let parsed = server.handle_input(&request);
                prop_assert!(matches!(parsed, Ok(Some(_))), "{:?} for {}", parsed, ws);
            }
        }
    }
}
