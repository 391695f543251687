//! `Signals`: SIGINT and SIGTERM as one stream, for the examples that shut down on either.

/// SIGINT and SIGTERM as one stream of signals.
pub(crate) struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn new() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let catch = |kind: SignalKind, name: &str| signal(kind).map_err(|e| format!("cannot catch {name}: {e}"));
        Ok(Signals { int: catch(SignalKind::interrupt(), "SIGINT")?, term: catch(SignalKind::terminate(), "SIGTERM")? })
    }

    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
