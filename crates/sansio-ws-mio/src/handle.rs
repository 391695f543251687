//! A thread-safe handle: other threads send, broadcast, close and shut down through it.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use sansio_ws::connection::{Message, PreparedMessage};
use sansio_ws::frame::CloseCode;

use crate::ConnId;

#[derive(Debug)]
pub(crate) enum Command {
    Send(ConnId, Message),
    Broadcast(PreparedMessage),
    Close(ConnId, CloseCode, String),
    SetReading(ConnId, bool),
    Shutdown(Duration),
    /// From a resolver thread: the addresses of an outgoing connection's host.
    Resolved(ConnId, std::io::Result<Vec<std::net::SocketAddr>>),
}

/// Sends commands to an [`EventLoop`](crate::EventLoop) from any thread. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Handle {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) waker: Arc<mio::Waker>,
    /// The loop's `send_frame_size`, to frame broadcasts before they are sent over.
    pub(crate) frame_size: usize,
    /// The loop's metrics as of its last turn.
    pub(crate) metrics: Arc<std::sync::Mutex<crate::Metrics>>,
}

/// The event loop has stopped; the command was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the event loop has stopped")
    }
}

impl std::error::Error for Stopped {}

impl Handle {
    pub(crate) fn command(&self, c: Command) -> Result<(), Stopped> {
        self.tx.send(c).map_err(|_| Stopped)?;
        self.waker.wake().map_err(|_| Stopped)
    }

    /// Queues `message` on connection `id`. A refusal reaches
    /// [`Handler::on_send_refused`](crate::Handler::on_send_refused).
    pub fn send(&self, id: ConnId, message: Message) -> Result<(), Stopped> {
        self.command(Command::Send(id, message))
    }

    /// Queues `message` on every open connection, framed once, here (the loop only shares it).
    pub fn broadcast(&self, message: Message) -> Result<(), Stopped> {
        self.broadcast_prepared(PreparedMessage::new(message, self.frame_size))
    }

    /// Queues a message framed beforehand on every open connection.
    pub fn broadcast_prepared(&self, prepared: PreparedMessage) -> Result<(), Stopped> {
        self.command(Command::Broadcast(prepared))
    }

    /// Starts the close handshake of connection `id`.
    pub fn close(&self, id: ConnId, code: CloseCode, reason: &str) -> Result<(), Stopped> {
        self.command(Command::Close(id, code, reason.into()))
    }

    /// Pauses (`false`) or resumes (`true`) reading connection `id`; see
    /// [`Ctx::set_reading`](crate::Ctx::set_reading).
    pub fn set_reading(&self, id: ConnId, reading: bool) -> Result<(), Stopped> {
        self.command(Command::SetReading(id, reading))
    }

    /// Wakes the loop for a turn, with no command: for an application that feeds it from a queue
    /// of its own (a bounded channel from a reader thread, say) and takes from it with
    /// [`EventLoop::with_ctx`](crate::EventLoop::with_ctx) after each [`turn`](crate::EventLoop::turn).
    pub fn wake(&self) -> Result<(), Stopped> {
        self.waker.wake().map_err(|_| Stopped)
    }

    /// The loop's counters and gauges as of its last turn (cheap: a lock and a copy).
    pub fn metrics(&self) -> crate::Metrics {
        *self.metrics.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Shuts the loop down gracefully: stop accepting, close every connection with 1001 after its
    /// queued messages, wait for the close handshakes up to `grace`, then force-close the rest.
    pub fn shutdown(&self, grace: Duration) -> Result<(), Stopped> {
        self.command(Command::Shutdown(grace))
    }
}
