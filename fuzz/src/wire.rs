//! Frames as bytes: building peer input that is well-formed often enough to get past the header
//! checks, and reading back what a connection transmitted.

use arbitrary::Arbitrary;
use sansio_ws::Role;
use sansio_ws::connection::Event;
use sansio_ws::frame::{DecodeRules, Decoded, FrameHeader, OpCode, Rsv, apply_mask, parse_close_payload};

/// A frame a peer might send. The first byte is raw (any FIN, RSV bits and opcode, reserved ones
/// included); the length is always written in its minimal form, and the payload masked with `mask`.
#[derive(Arbitrary, Debug, Clone)]
pub struct RawFrame {
    pub first_byte: u8,
    pub mask: Option<[u8; 4]>,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// Appends the frame's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let len = self.payload.len();
        out.push(self.first_byte);
        match len {
            0..=125 => out.push(mask_bit | len as u8),
            126..=0xFFFF => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
            // The key goes before the payload: rotate it into place.
            out[start..].rotate_right(4);
            apply_mask(&mut out[start + 4..], key, 0);
        }
    }
}

/// A frame read back from a connection's output, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFrame {
    pub opcode: OpCode,
    pub fin: bool,
    pub payload: Vec<u8>,
}

/// Reads every complete frame that an endpoint of role `sender` wrote. Each must pass the receive
/// rules of its peer (masking, no RSV bits but RSV1 with permessage-deflate, minimal lengths, short
/// final control frames), and no frame may follow a Close. Returns the frames and whether bytes of
/// an unfinished frame remain.
pub fn sent_frames(mut bytes: &[u8], sender: Role, deflate: bool) -> (Vec<SentFrame>, bool) {
    let allowed_rsv = if deflate { Rsv::RSV1 } else { Rsv::NONE };
    let rules = DecodeRules { role: sender.peer(), allowed_rsv, max_frame_size: u64::MAX };
    let mut frames: Vec<SentFrame> = Vec::new();
    while !bytes.is_empty() {
        assert!(
            frames.last().is_none_or(|f| f.opcode != OpCode::Close),
            "bytes after our Close frame: {:02x?}",
            &bytes[..bytes.len().min(16)]
        );
        let (header, len) = match FrameHeader::decode(bytes, &rules) {
            Ok(Decoded::Complete { header, len }) => (header, len),
            Ok(Decoded::Incomplete { .. }) => return (frames, true),
            Err(e) => panic!("we sent a frame our peer must reject: {e} ({:02x?})", &bytes[..bytes.len().min(16)]),
        };
        let end = len as u64 + header.payload_len;
        if end > bytes.len() as u64 {
            return (frames, true);
        }
        let mut payload = bytes[len..end as usize].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        if header.opcode == OpCode::Close {
            let parsed = parse_close_payload(&payload);
            assert!(
                matches!(parsed, Ok(Some(_))),
                "we sent a Close the peer must reject or that lacks a code: {parsed:?}"
            );
        }
        frames.push(SentFrame { opcode: header.opcode, fin: header.fin, payload });
        bytes = &bytes[end as usize..];
    }
    (frames, false)
}

/// The code of a Close frame we sent.
pub fn close_code(frame: &SentFrame) -> u16 {
    u16::from_be_bytes([frame.payload[0], frame.payload[1]])
}

/// Merges each run of consecutive [`Event::Fragment`]s into one, so that streamed deliveries can
/// be compared however the input was split.
pub fn merge_fragments(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for ev in events {
        if let (Event::Fragment(next), Some(Event::Fragment(prev))) = (&ev, out.last_mut())
            && !prev.last
            && !next.first
        {
            let mut data = prev.data.to_vec();
            data.extend_from_slice(&next.data);
            prev.data = data.into();
            prev.last = next.last;
            continue;
        }
        out.push(ev);
    }
    out
}

/// When a streamed message is failed mid-frame, how much of it was delivered first depends on
/// where the input was split. Removes the unfinished message's piece reported just before a final
/// [`Event::Closed`] for a protocol violation and returns its bytes (empty if there was none).
pub fn take_failed_piece(events: &mut Vec<Event>) -> Vec<u8> {
    use sansio_ws::connection::CloseCause;
    let n = events.len();
    let failed = matches!(events.last(), Some(Event::Closed(c)) if matches!(c.cause, CloseCause::ProtocolViolation(_)));
    if failed
        && n >= 2
        && let Event::Fragment(f) = &events[n - 2]
        && !f.last
    {
        let data = f.data.to_vec();
        events.remove(n - 2);
        return data;
    }
    Vec::new()
}
