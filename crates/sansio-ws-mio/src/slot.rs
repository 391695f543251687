//! One socket and the stage of its life: connecting, handshaking, open, or lingering.

use std::io::{self, IoSlice};
use std::net::SocketAddr;

use mio::{Interest, Registry, Token};
use sansio_ws::Instant;
use sansio_ws::connection::Connection;
use sansio_ws::handshake::ServerHandshake;

use crate::dial::Dial;
use crate::transport::{Incoming, Transport};

/// Where a socket is in its life.
pub(crate) enum Stage {
    /// An outgoing connection whose host name is being resolved (no socket yet).
    Resolving(Box<Dial>),
    /// An outgoing TCP connection in progress.
    Connecting(Box<Dial>),
    /// Accepted; reading the client's request.
    AwaitRequest(Box<ServerHandshake>),
    /// Request written; reading the server's response.
    AwaitResponse(Box<Dial>),
    /// A refusal is being written; then the socket closes.
    Rejecting,
    /// Established.
    Open(Box<Connection>),
    /// The connection is over: our write side is shut, reads are drained until EOF or the deadline.
    Lingering,
}

/// A socket of the event loop.
pub(crate) struct Slot {
    pub(crate) generation: u64,
    /// The socket (under TLS or not); `None` only while [`Stage::Resolving`].
    pub(crate) io: Option<Transport>,
    pub(crate) peer: SocketAddr,
    pub(crate) stage: Stage,
    /// Raw bytes to write before anything else (handshake request or response, a refusal).
    pub(crate) pending: Vec<u8>,
    pub(crate) pending_written: usize,
    /// Refusal or linger deadline (the handshakes and the connection keep their own).
    pub(crate) deadline: Instant,
    /// The deadline this slot has in the timer heap.
    pub(crate) scheduled: Option<Instant>,
    pub(crate) writable_interest: bool,
    /// Reading is paused: by the application, or because the connection's send queue is above
    /// its high-water mark (the peer does not read what we send; TCP pushes back on it).
    pub(crate) paused: Paused,
    /// The socket may hold bytes not read yet (reading stopped before it would block: a pause or
    /// the turn's read budget). Readiness is edge-triggered, so no event will say so again.
    pub(crate) unread: bool,
    /// The peer has closed its side: read to the end of the stream.
    pub(crate) peer_closed: bool,
    /// Counted in the loop's open-connection total.
    pub(crate) counted: bool,
    /// Bytes the connection held at its last count (sent queue and peer's data), as added to the
    /// loop's total.
    pub(crate) held: usize,
    /// Closed by the driver for the memory budget: not chosen again.
    pub(crate) budget_closed: bool,
    /// The application's timer ([`Ctx::set_timer`](crate::Ctx::set_timer)), while open.
    pub(crate) app_timer: Option<Instant>,
}

/// Why reading a connection is paused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Paused {
    /// By the application (`Ctx::pause_reading`).
    pub(crate) by_app: bool,
    /// By backpressure: the send queue is above the high-water mark.
    pub(crate) by_backpressure: bool,
    /// By the memory budget: the connections together hold more than it, this one more than its
    /// share.
    pub(crate) by_budget: bool,
}

impl Paused {
    pub(crate) fn any(self) -> bool {
        self.by_app || self.by_backpressure || self.by_budget
    }
}

impl Slot {
    /// The deadline the loop must wake this slot at.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match &self.stage {
            Stage::Open(conn) => match (conn.poll_timeout(), self.app_timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Stage::AwaitRequest(hs) => hs.poll_timeout(),
            // More addresses to try: this one has until its share of the time ends.
            Stage::Connecting(dial) if !dial.addrs.is_empty() => {
                dial.hs.poll_timeout().map(|end| end.min(self.deadline)).or(Some(self.deadline))
            }
            Stage::Resolving(dial) | Stage::Connecting(dial) | Stage::AwaitResponse(dial) => dial.hs.poll_timeout(),
            Stage::Rejecting | Stage::Lingering => Some(self.deadline),
        }
    }

    /// Writes `pending`, then (when open) the connection's output, then what the TLS layer has
    /// queued, until done or the socket would block. Returns whether output remains; adds what
    /// went to the socket to `written`.
    pub(crate) fn flush(&mut self, now: Instant, written: &mut u64) -> io::Result<bool> {
        let Some(io) = self.io.as_mut() else { return Ok(false) };
        while self.pending_written < self.pending.len() {
            match io.write(&[IoSlice::new(&self.pending[self.pending_written..])], written) {
                Ok(n) => self.pending_written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        self.pending.clear();
        self.pending_written = 0;
        if let Stage::Open(conn) = &mut self.stage {
            loop {
                // Output is a few segments (frames are staged contiguously; large payloads are
                // their own segments): a short array is quicker to set up for every write.
                let mut slices = [IoSlice::new(&[]); 16];
                let n = conn.transmit_io_slices(&mut slices);
                if n == 0 {
                    break;
                }
                match io.write(&slices[..n], written) {
                    Ok(n) => conn.advance_transmit(now, n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                    Err(e) => return Err(e),
                }
            }
        }
        io.flush(written)
    }

    /// Registers write interest only while output is pending.
    pub(crate) fn update_interest(&mut self, registry: &Registry, token: Token, want_write: bool) -> io::Result<()> {
        let Some(io) = self.io.as_mut() else { return Ok(()) };
        if want_write != self.writable_interest {
            let interest = if want_write { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            registry.reregister(&mut io.sock, token, interest)?;
            self.writable_interest = want_write;
        }
        Ok(())
    }

    /// One read into the event loop's `scratch` buffer: handed to the open connection at once
    /// (which keeps only what it has not made into messages yet), or left in `scratch` for the other
    /// stages. The count is of plaintext bytes.
    pub(crate) fn read_step(&mut self, now: Instant, scratch: &mut [u8]) -> Incoming {
        let Some(io) = self.io.as_mut() else { return Incoming::WouldBlock };
        let got = io.read(scratch);
        if let (Stage::Open(conn), Incoming::Data(n)) = (&mut self.stage, &got) {
            conn.handle_input(now, &scratch[..*n]);
        }
        got
    }

    /// Whether a short read says the socket is drained: true of a plain socket (readiness is
    /// edge-triggered, and a read that does not fill the buffer took all there was); a TLS
    /// connection may hold more plaintext than one read returns, so it is read until it would block.
    pub(crate) fn short_read_drains(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.io.as_ref().is_some_and(|io| io.tls.is_some()) {
            return false;
        }
        true
    }

    /// What the TLS handshake agreed, once it is complete (`None` for a plain socket).
    pub(crate) fn tls_info(&self) -> Option<crate::handler::TlsInfo> {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.io.as_ref().and_then(|io| io.tls.as_deref()) {
            if tls.is_handshaking() {
                return None;
            }
            let verified = match &self.stage {
                Stage::AwaitResponse(dial) => Some(dial.host.as_str()),
                _ => None,
            };
            return Some(crate::tls::info(tls, verified));
        }
        None
    }

    /// What the connection holds now: its send queue and its peer's data.
    pub(crate) fn holding(&self) -> usize {
        match &self.stage {
            Stage::Open(conn) => conn.buffered_amount() + conn.buffered_input(),
            _ => 0,
        }
    }

    /// Shuts our write side (the peer sees EOF after everything we wrote; under TLS,
    /// `close_notify` first); adds what went to the socket to `written`.
    pub(crate) fn shutdown_write(&mut self, written: &mut u64) {
        if let Some(io) = self.io.as_mut() {
            io.shutdown_write(written);
        }
    }
}
