//! The frame layer of RFC 6455 §5: headers, masking, close payloads and codes.
//!
//! Everything here is usable without a [`Connection`](crate::connection::Connection): decode a
//! header from the front of a buffer, unmask its payload in place, parse a Close payload.

mod close;
mod header;
pub(crate) mod mask;
mod opcode;

pub use close::{
    CloseCode, CloseError, CloseFrame, MAX_REASON_LEN, encode_close_payload, parse_close_payload, truncate_reason,
};
pub use header::{DecodeRules, Decoded, FrameError, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, Rsv};
pub use mask::apply_mask;
pub use opcode::OpCode;
