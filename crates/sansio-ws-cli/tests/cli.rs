//! The `sansio-ws` binary driven as a user would: its output and exit status against our echo
//! server (`sansio-ws serve`), against nothing at all, and against small hand-written servers that
//! misbehave in one way each (never answer the handshake, refuse it, reset mid-message, never
//! answer a Ping or a Close).

// Each command is printed with its output: what a failure shows.
#![allow(clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use sansio_ws::Instant;
use sansio_ws::handshake::{Accept, OriginPolicy, ServerConfig, ServerHandshake};

const BIN: &str = env!("CARGO_BIN_EXE_sansio-ws");

fn sansio_ws(args: &[&str]) -> Output {
    let output = Command::new(BIN).args(args).stdin(Stdio::null()).output().expect("the binary runs");
    eprintln!("$ sansio-ws {}\n{}{}", args.join(" "), stdout(&output), stderr(&output));
    output
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sansio-ws serve` on a free port, its stderr collected line by line.
struct Serve {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(extra: &[&str]) -> Serve {
        let mut child = Command::new(BIN)
            .args(["serve", "127.0.0.1:0", "--origin-any"])
            .args(extra)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // Held from here, so that the server is stopped however this goes.
        let mut serve = Serve { child, url: String::new(), log: Arc::new(Mutex::new(Vec::new())) };
        let first = lines.next().expect("serve says where it listens").unwrap();
        let url = first.split_whitespace().find(|w| w.starts_with("ws://") || w.starts_with("wss://"));
        serve.url = url.expect(&first).to_string();
        serve.log.lock().unwrap().push(first);
        let sink = serve.log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        serve
    }

    /// Waits until a line of the log contains each of `words`.
    fn logged(&self, words: &[&str]) -> String {
        let start = StdInstant::now();
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| words.iter().all(|w| l.contains(w))) {
                return line.clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no line with {words:?} in {:?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server of our own making: accepts on a thread and hands each socket to `serve`.
fn raw_server(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for sock in listener.incoming().map_while(Result::ok) {
            let serve = serve.clone();
            std::thread::spawn(move || serve(sock));
        }
    });
    addr
}

/// Answers the opening handshake (no extension), as a correct server would.
fn upgrade(sock: &mut TcpStream) {
    let config = ServerConfig::default().with_origin_policy(OriginPolicy::Any).with_deflate(None);
    let mut hs = ServerHandshake::new(config, Instant::ZERO);
    let mut buf = [0u8; 4096];
    loop {
        let n = sock.read(&mut buf).unwrap();
        assert!(n > 0, "the client left during the handshake");
        if let Some(request) = hs.handle_input(&buf[..n]).unwrap() {
            let upgraded = hs.accept(&request, Accept::new()).unwrap();
            sock.write_all(upgraded.response_bytes()).unwrap();
            return;
        }
    }
}

#[test]
fn diagnose_finds_the_echo_server_healthy_and_reports_every_finding() {
    let server = Serve::start(&["--quiet"]);
    let out = sansio_ws(&["diagnose", &server.url, "--max-probe", "256KiB", "--pings", "5"]);
    assert_eq!(out.status.code(), Some(0), "healthy");
    let text = stdout(&out);
    for expected in [
        "timing       resolve",
        "response     101 Switching Protocols",
        "Sec-WebSocket-Accept: ",
        "extensions   permessage-deflate",
        "pings        5/5 answered · min ",
        "close        answered in ",
        "max message  256 KiB accepted (the probe's limit: it may take more), echoed back",
        "pings and close: closed cleanly: we closed first with 1000 (closed normally) \"diagnosis done\"",
        "verdict: healthy",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
    // The server saw the same ending from its side.
    server.logged(&["ended: closed cleanly: the client closed first with 1000", "diagnosis done"]);
}

#[test]
fn diagnose_json_is_one_document_with_the_same_findings() {
    let server = Serve::start(&["--quiet", "--no-deflate"]);
    let out = sansio_ws(&["diagnose", &server.url, "--json", "--max-probe", "64KiB", "--pings", "3"]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("the output is JSON");
    assert_eq!(report["verdict"], "healthy");
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(0));
    assert_eq!(report["open"]["status"], 101);
    assert_eq!(report["open"]["extensions"].as_array().map(Vec::len), Some(0), "--no-deflate on the server");
    assert_eq!((report["pings"]["sent"].as_u64(), report["pings"]["answered"].as_u64()), (Some(3), Some(3)));
    let (min, p99) = (report["pings"]["min_ms"].as_f64().unwrap(), report["pings"]["p99_ms"].as_f64().unwrap());
    assert!(min > 0.0 && min <= p99, "{min} {p99}");
    assert_eq!(report["close"]["answered"], true);
    assert_eq!(report["max_message"]["largest_accepted"], 64 << 10);
    assert_eq!(report["max_message"]["echoed"], true);
    assert_eq!(report["connections"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["connections"][0]["code"], 1000);
}

#[test]
fn diagnose_finds_the_servers_message_limit_where_it_answers_1009() {
    let server = Serve::start(&["--quiet", "--max-message", "100KiB"]);
    let out = sansio_ws(&["diagnose", &server.url, "--json", "--pings", "1"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["max_message"]["largest_accepted"], 64 << 10);
    assert_eq!(report["max_message"]["refused_at"], 128 << 10);
    let ended = report["max_message"]["ended"].as_str().unwrap();
    assert!(ended.contains("1009 (a message too big)"), "{ended}");
    // A limit told with 1009 is correct behaviour, not a problem.
    assert_eq!(report["verdict"], "healthy", "{report}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn nothing_listening_is_unreachable_while_connecting() {
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = sansio_ws(&["diagnose", &format!("ws://{free}/")]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(
        text.contains("failed       while connecting over TCP: connection failed: cannot connect to 127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("verdict: unreachable"), "{text}");
    let out = sansio_ws(&["diagnose", "http://example.com/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("failed       before connecting: invalid request"), "{}", stdout(&out));
}

#[test]
fn a_server_that_never_answers_the_handshake_times_out_in_the_handshake() {
    let addr = raw_server(|mut sock| {
        // Reads the request and says nothing.
        let mut sink = Vec::new();
        let _ = sock.read_to_end(&mut sink);
    });
    let started = StdInstant::now();
    let out = sansio_ws(&["diagnose", &format!("ws://{addr}/"), "--timeout", "0.5", "--json"]);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["verdict"], "unreachable");
    assert_eq!(report["failure"]["phase"], "handshake");
    assert_eq!(report["failure"]["error"], "timed out after 500 ms waiting for the server's handshake response");
}

#[test]
fn a_refused_upgrade_gives_its_status() {
    let addr = raw_server(|mut sock| {
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf);
        let _ = sock.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    });
    let out = sansio_ws(&["diagnose", &format!("ws://{addr}/"), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["failure"]["status"], 403);
    assert!(report["failure"]["error"].as_str().unwrap().contains("403 Forbidden"), "{report}");
}

#[test]
fn a_server_that_resets_mid_message_is_degraded_and_the_report_says_it_vanished() {
    let addr = raw_server(|mut sock| {
        upgrade(&mut sock);
        // The head of a 1 MiB binary message and a little of it; then the socket is dropped with
        // the client's Pings unread, which makes the kernel reset the connection.
        let mut partial = vec![0x82, 127];
        partial.extend_from_slice(&(1u64 << 20).to_be_bytes());
        partial.extend_from_slice(&[7; 1000]);
        sock.write_all(&partial).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    });
    let out =
        sansio_ws(&["diagnose", &format!("ws://{addr}/"), "--pings", "3", "--ping-timeout", "5", "--max-probe", "0"]);
    assert_eq!(out.status.code(), Some(1), "degraded");
    let text = stdout(&out);
    assert!(text.contains("verdict: degraded"), "{text}");
    assert!(text.contains("the connection ended during the pings: the server vanished"), "{text}");
    assert!(text.contains("(1006)"), "{text}");
}

#[test]
fn a_server_that_never_answers_pings_nor_the_close_is_degraded() {
    let addr = raw_server(|mut sock| {
        upgrade(&mut sock);
        // Reads everything, answers nothing.
        let mut sink = [0u8; 4096];
        while matches!(sock.read(&mut sink), Ok(n) if n > 0) {}
    });
    let url = format!("ws://{addr}/");
    let args =
        ["diagnose", &url, "--pings", "3", "--ping-timeout", "0.2", "--close-timeout", "0.3", "--max-probe", "0"];
    let out = sansio_ws(&args);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for expected in [
        "pings        0/3 answered · min – ",
        "3 of 3 Pings went unanswered within 200 ms (RFC 6455 §5.5.2: a Ping must be answered)",
        "close        not completed: the server never answered our Close within the close timeout",
        "verdict: degraded",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
}

#[test]
fn connect_sends_stdin_lines_prints_the_echoes_and_closes_cleanly_at_the_end_of_input() {
    let server = Serve::start(&[]);
    let mut child = Command::new(BIN)
        .args(["connect", &server.url, "--subprotocol", "chat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all("hello\ncafé ✓\r\n\n".as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\ncafé ✓\n\n", "each line echoed, the empty one too");
    let err = stderr(&out);
    assert!(err.contains("sansio-ws: connected to ws://127.0.0.1:"), "{err}");
    assert!(err.contains("subprotocol none"), "the server offers none: {err}");
    assert!(err.contains("closed cleanly: we closed first with 1000"), "{err}");
    server.logged(&["GET /", "offers chat"]);
    server.logged(&["text, 9 bytes: \"café ✓\""]);
    server.logged(&["ended: closed cleanly: the client closed first with 1000"]);
}

#[test]
fn connect_prints_binary_as_asked_and_exits_2_when_it_cannot_connect() {
    let addr = raw_server(|mut sock| {
        upgrade(&mut sock);
        // A binary message, then a Close 1001; then wait for the client's Close and EOF.
        sock.write_all(&[0x82, 3, 0xde, 0xad, 0x01, 0x88, 2, 0x03, 0xe9]).unwrap();
        let mut sink = Vec::new();
        let _ = sock.read_to_end(&mut sink);
    });
    let mut child = Command::new(BIN)
        .args(["connect", &format!("ws://{addr}/"), "--binary", "hex"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Standard input stays open (nothing to say): the server ends the connection.
    let input = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    drop(input);
    assert_eq!(stdout(&out), "dead01\n");
    let err = stderr(&out);
    assert!(err.contains("the server sent Close 1001 (going away"), "{err}");
    assert!(err.contains("closed cleanly: the server closed first with 1001"), "{err}");
    assert_eq!(out.status.code(), Some(0), "a clean close, whoever started it: {err}");

    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = sansio_ws(&["connect", &format!("ws://{free}/")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot connect to ws://127.0.0.1:"), "{}", stderr(&out));
}

#[test]
fn serve_tells_each_connections_life_and_a_bad_address_is_refused_with_its_reason() {
    let server = Serve::start(&[]);
    let out = sansio_ws(&["diagnose", &server.url, "--pings", "1", "--max-probe", "0"]);
    assert_eq!(out.status.code(), Some(0));
    server.logged(&["GET /"]);
    server.logged(&["opened (127.0.0.1:", "extensions permessage-deflate"]);
    server.logged(&["Ping, 12 bytes (answered)"]);
    server.logged(&["Close received: 1000 (closed normally) \"diagnosis done\""]);

    let out = sansio_ws(&["serve", "nowhere:port"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value 'nowhere:port' for '[ADDR]'"), "{}", stderr(&out));
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = sansio_ws(&["serve", &addr]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("cannot listen on {addr}")), "{}", stderr(&out));
}

#[test]
fn every_subcommand_has_help() {
    for (sub, option) in [("connect", "--ping-interval"), ("diagnose", "--max-probe"), ("serve", "--origin-any")] {
        let out = sansio_ws(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(stdout(&out).contains(option), "{sub}: {}", stdout(&out));
    }
    let out = sansio_ws(&["--help"]);
    assert!(stdout(&out).contains("Exit status: connect 0 after a clean close"), "{}", stdout(&out));
}

/// The driver's certificate helper, shared with its examples and tests.
#[path = "../../sansio-ws-mio/examples/shared/certs.rs"]
#[allow(dead_code)]
mod certs;

/// A CA and a certificate for localhost, in a directory of their own.
fn pki() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sansio-ws-cli-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = certs::TestCa::new("test CA").unwrap();
    let leaf = ca.leaf(&["localhost"]).unwrap();
    std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    dir
}

#[test]
fn wss_serve_connect_and_diagnose_with_a_private_ca() {
    let dir = pki();
    let (cert, key, ca) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("ca.pem"));
    let server = Serve::start(&["--quiet", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert!(server.url.starts_with("wss://127.0.0.1:"), "{}", server.url);
    let url = server.url.replace("127.0.0.1", "localhost");
    let out = sansio_ws(&["diagnose", &url, "--ca", ca.to_str().unwrap(), "--pings", "2", "--max-probe", "64KiB"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains(" · TLS "), "{text}");
    assert!(text.contains("tls          TLSv1_3 · TLS13_"), "{text}");
    assert!(text.contains("ALPN http/1.1 · certificate verified for localhost"), "{text}");
    assert!(text.contains("verdict: healthy"), "{text}");

    // Without the CA: the certificate is refused, and the report says why.
    let out = sansio_ws(&["diagnose", &url, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["failure"]["phase"], "tls");
    let error = report["failure"]["error"].as_str().unwrap();
    assert!(error.contains("not signed by a trusted certificate authority (unknown issuer)"), "{error}");

    // connect over wss://, lines echoed.
    let mut child = Command::new(BIN)
        .args(["connect", &url, "--ca", ca.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"secure hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "secure hello\n", "{}", stderr(&out));
    assert!(stderr(&out).contains("TLSv1_3"), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}
