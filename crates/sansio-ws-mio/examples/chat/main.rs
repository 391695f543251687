//! A chat room: open http://127.0.0.1:9001/ in two browser tabs and talk.
//!
//! `cargo run --release -p sansio-ws-mio --example chat` (optional: the address, `--no-deflate`)
//!
//! The page is served at `/`, the WebSocket at `/ws`. Every message goes to everyone (framed once
//! for all of them), the peer count is announced on every join and leave, and the heartbeat keeps
//! idle connections checked. Ctrl-C is not caught: the server stops with the process.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::net::SocketAddr;

use sansio_ws::connection::{Closed, Message};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{Reject, Request};
use sansio_ws_mio::{ConnId, Ctx, Decision, DriverConfig, EventLoop, Handler, Opened};

const PAGE: &str = include_str!("page.html");
/// Longest chat line accepted; longer ones are cut.
const MAX_LINE: usize = 2000;

struct Chat;

impl Chat {
    fn announce(&self, ctx: &mut Ctx<'_>, id: ConnId, what: &str) {
        let peers = ctx.open_count();
        let line = format!(r#"{{"type":"presence","who":"{id}","what":"{what}","peers":{peers}}}"#);
        broadcast(ctx, Message::Text(line.into()));
    }
}

/// Sends `message` to everyone, framed once. The slow-consumer policy: a reader whose queue is
/// over its high-water mark (4 MiB by default) refuses the line; it is closed with 1008 "too slow"
/// and a log line, so nobody silently misses part of the conversation.
fn broadcast(ctx: &mut Ctx<'_>, message: Message) {
    let result = ctx.broadcast(&message);
    for id in result.refused {
        eprintln!("chat: {id}: too slow to keep up (a {} byte line refused), closing", message.len());
        if let Err(e) = ctx.close(id, CloseCode::POLICY_VIOLATION, "too slow") {
            eprintln!("chat: {id}: already closing: {e}");
        }
    }
}

impl Handler for Chat {
    fn on_http(&mut self, _ctx: &mut Ctx<'_>, path: &str) -> Option<Reject> {
        match path {
            "/" | "/index.html" => Some(
                Reject::new(200)
                    .with_header("Content-Type", "text/html; charset=utf-8")
                    .with_header("Cache-Control", "no-store")
                    .with_body(PAGE),
            ),
            _ => Some(Reject::new(404).with_header("Content-Type", "text/plain").with_body("not found\n")),
        }
    }

    fn on_request(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, request: &Request) -> Decision {
        if request.path() == "/ws" {
            Decision::Accept(Default::default())
        } else {
            Decision::Reject(Reject::new(404).with_body("the chat is at /ws\n"))
        }
    }

    fn on_open(&mut self, ctx: &mut Ctx<'_>, id: ConnId, _opened: &Opened) {
        let hello = format!(r#"{{"type":"welcome","you":"{id}"}}"#);
        if let Err(refused) = ctx.send(id, Message::Text(hello.into())) {
            eprintln!("chat: {id}: welcome refused: {refused}");
        }
        self.announce(ctx, id, "joined");
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        let Message::Text(text) = message else { return };
        let mut line: &str = text.as_str();
        if line.len() > MAX_LINE {
            let mut end = MAX_LINE;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line = &line[..end];
        }
        let out = format!(r#"{{"type":"message","from":"{id}","text":"{}"}}"#, json_escape(line));
        broadcast(ctx, Message::Text(out.into()));
    }

    fn on_memory_budget(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, held: usize) {
        eprintln!(
            "chat: {id}: closing with 1013: the server is over its memory budget and this connection held {held} bytes"
        );
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, _closed: &Closed) {
        self.announce(ctx, id, "left");
    }
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr: SocketAddr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("127.0.0.1:9001", String::as_str)
        .parse()
        .expect("an address");
    // Defaults: same-host origin policy (a page from another site cannot connect), heartbeat on.
    let mut config = DriverConfig::default();
    if args.iter().any(|a| a == "--no-deflate") {
        config.server.deflate = None;
    }
    let mut event_loop = EventLoop::new(config, Chat)?;
    let local = event_loop.listen(addr)?;
    eprintln!("chat: open http://{local}/ in two browser tabs");
    event_loop.run()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_json_strings() {
        assert_eq!(super::json_escape("a\"b\\c\nd\u{1}"), "a\\\"b\\\\c\\nd\\u0001");
    }
}
