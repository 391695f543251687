//! One socket and the stage of its life: connecting, handshaking, open, or lingering.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use sansio_ws::Instant;
use sansio_ws::connection::Connection;
use sansio_ws::handshake::ServerHandshake;

use crate::dial::Dial;

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
    /// The socket; `None` only while [`Stage::Resolving`].
    pub(crate) sock: Option<TcpStream>,
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

/// What one read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadStep {
    /// Bytes were read and handed on; read again.
    Data,
    /// The socket has nothing more for now.
    WouldBlock,
    /// The peer closed its side (or the socket failed).
    Eof,
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

    /// Writes `pending`, then (when open) the connection's output, until done or the socket
    /// would block. Returns whether output remains; adds what it wrote to `written`.
    pub(crate) fn flush(&mut self, now: Instant, written: &mut u64) -> io::Result<bool> {
        let Some(sock) = self.sock.as_mut() else { return Ok(false) };
        while self.pending_written < self.pending.len() {
            match sock.write(&self.pending[self.pending_written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pending_written += n;
                    *written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.clear();
        self.pending_written = 0;
        let Stage::Open(conn) = &mut self.stage else { return Ok(false) };
        loop {
            // Output is a few segments (frames are staged contiguously; large payloads are their
            // own segments): a short array is quicker to set up for every write.
            let mut slices = [IoSlice::new(&[]); 16];
            let n = conn.transmit_io_slices(&mut slices);
            if n == 0 {
                return Ok(false);
            }
            match sock.write_vectored(&slices[..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    conn.advance_transmit(now, n);
                    *written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Registers write interest only while output is pending.
    pub(crate) fn update_interest(&mut self, registry: &Registry, token: Token, want_write: bool) -> io::Result<()> {
        let Some(sock) = self.sock.as_mut() else { return Ok(()) };
        if want_write != self.writable_interest {
            let interest = if want_write { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            registry.reregister(sock, token, interest)?;
            self.writable_interest = want_write;
        }
        Ok(())
    }

    /// One read into the event loop's `scratch` buffer: handed to the open connection at once
    /// (which keeps only what it has not made into messages yet), or left in `scratch` for the other
    /// stages.
    pub(crate) fn read_step(&mut self, now: Instant, scratch: &mut [u8]) -> (ReadStep, usize) {
        let Some(sock) = self.sock.as_mut() else { return (ReadStep::WouldBlock, 0) };
        let result = sock.read(scratch);
        if let (Stage::Open(conn), Ok(n)) = (&mut self.stage, &result) {
            conn.handle_input(now, &scratch[..*n]);
        }
        match result {
            Ok(0) => (ReadStep::Eof, 0),
            Ok(n) => (ReadStep::Data, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => (ReadStep::WouldBlock, 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => (ReadStep::Data, 0),
            Err(_) => (ReadStep::Eof, 0),
        }
    }

    /// What the connection holds now: its send queue and its peer's data.
    pub(crate) fn holding(&self) -> usize {
        match &self.stage {
            Stage::Open(conn) => conn.buffered_amount() + conn.buffered_input(),
            _ => 0,
        }
    }

    /// Shuts our write side (the peer sees EOF after everything we wrote).
    pub(crate) fn shutdown_write(&mut self) {
        if let Some(sock) = &self.sock {
            let _ = sock.shutdown(Shutdown::Write);
        }
    }
}
