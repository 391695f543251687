//! The opening handshake (RFC 6455 §4): in progress.
