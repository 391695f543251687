//! permessage-deflate negotiation (RFC 7692 §5, §7.1): the client's offer, the server's choice
//! and the client's check of the answer. Only the handshake's extension values are read here; the
//! compressor and decompressor are in `codec.rs`.

use alloc::format;
use alloc::string::String;
use core::fmt;

use crate::Role;
use crate::handshake::{Extension, ExtensionParam};

/// The extension token.
pub const PERMESSAGE_DEFLATE: &str = crate::handshake::PERMESSAGE_DEFLATE;

/// What this endpoint asks for or accepts. `DeflateConfig::default()` offers and accepts
/// everything RFC 7692 allows with full 32 KiB windows and context takeover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Ask that the server reset its compressor after every message (saves the server's memory
    /// between messages, costs ratio).
    pub server_no_context_takeover: bool,
    /// Ask that the client reset its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The largest window (8–15 bits) the server may compress with.
    pub server_max_window_bits: u8,
    /// The largest window (8–15 bits) the client may compress with.
    pub client_max_window_bits: u8,
    /// Messages shorter than this are sent uncompressed. Default 128 bytes.
    pub threshold: usize,
    /// zlib compression level, 0–9. Default 6.
    pub level: u32,
    /// Without context takeover, free the compressor and decompressor between messages instead
    /// of resetting them: least memory for idle connections, one allocation per message. Default off.
    pub release_between_messages: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            threshold: 128,
            level: 6,
            release_between_messages: false,
        }
    }
}

with_setters!(DeflateConfig {
    with_server_no_context_takeover => server_no_context_takeover: bool,
    with_client_no_context_takeover => client_no_context_takeover: bool,
    with_server_max_window_bits => server_max_window_bits: u8,
    with_client_max_window_bits => client_max_window_bits: u8,
    with_threshold => threshold: usize,
    with_level => level: u32,
    with_release_between_messages => release_between_messages: bool,
});

/// What both ends agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server compresses with at most this window (bits).
    pub server_max_window_bits: u8,
    /// The client compresses with at most this window (bits).
    pub client_max_window_bits: u8,
}

impl DeflateParams {
    /// (window bits, no context takeover) of the messages `role` sends.
    pub(crate) fn sender(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Server => (self.server_max_window_bits, self.server_no_context_takeover),
            Role::Client => (self.client_max_window_bits, self.client_no_context_takeover),
        }
    }
}

/// A permessage-deflate offer or response that breaks RFC 7692.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateError {
    /// A parameter RFC 7692 does not define.
    UnknownParameter(String),
    /// A parameter given twice.
    RepeatedParameter(String),
    /// A parameter value that is missing, present where none is allowed, or out of range.
    InvalidValue(String),
    /// The server's answer asked for something the client did not offer or allow.
    NotOffered(String),
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeflateError::UnknownParameter(p) => write!(f, "unknown permessage-deflate parameter {p}"),
            DeflateError::RepeatedParameter(p) => write!(f, "permessage-deflate parameter {p} given twice"),
            DeflateError::InvalidValue(p) => write!(f, "invalid value for permessage-deflate parameter {p}"),
            DeflateError::NotOffered(p) => write!(f, "the server's permessage-deflate answer {p} was not offered"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DeflateError {}

/// The parameters of one offer or response, checked for RFC 7692 §7.1 syntax.
#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in a client's offer only).
    client_max_window_bits: Option<Option<u8>>,
}

fn window_bits(param: &ExtensionParam) -> Result<u8, DeflateError> {
    let invalid = || DeflateError::InvalidValue(param.name.clone());
    let value = param.value.as_deref().ok_or_else(invalid)?;
    // §7.1.2: 1*DIGIT without leading zeros, 8 to 15.
    if value.is_empty() || value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match value.parse::<u8>() {
        Ok(bits @ 8..=15) => Ok(bits),
        _ => Err(invalid()),
    }
}

fn parse(ext: &Extension) -> Result<Parsed, DeflateError> {
    let mut p = Parsed::default();
    let mut seen: [bool; 4] = [false; 4];
    for param in &ext.params {
        let name = param.name.to_ascii_lowercase();
        let index = match name.as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return Err(DeflateError::UnknownParameter(param.name.clone())),
        };
        if core::mem::replace(&mut seen[index], true) {
            return Err(DeflateError::RepeatedParameter(param.name.clone()));
        }
        match index {
            0 | 1 if param.value.is_some() => return Err(DeflateError::InvalidValue(param.name.clone())),
            0 => p.server_no_context_takeover = true,
            1 => p.client_no_context_takeover = true,
            2 => p.server_max_window_bits = Some(window_bits(param)?),
            _ => p.client_max_window_bits = Some(if param.value.is_some() { Some(window_bits(param)?) } else { None }),
        }
    }
    Ok(p)
}

impl DeflateConfig {
    /// The client's offer: the parameters this configuration asks for, and
    /// `client_max_window_bits` (with our limit when below 15) to say we can compress with a
    /// smaller window if the server wants.
    pub fn offer(&self) -> Extension {
        let mut e = Extension::new(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            e = e.with_flag("server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            e = e.with_flag("client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            e = e.with_value("server_max_window_bits", format!("{}", self.server_max_window_bits.max(8)));
        }
        if self.client_max_window_bits < 15 {
            e = e.with_value("client_max_window_bits", format!("{}", self.client_max_window_bits.max(8)));
        } else {
            e = e.with_flag("client_max_window_bits");
        }
        e
    }

    /// Server side: the first permessage-deflate offer in `offers` this configuration can honour,
    /// as the extension to answer with and the agreed parameters. `None` when there is no usable
    /// offer (the connection then runs without compression).
    pub fn negotiate(&self, offers: &[Extension]) -> Option<(Extension, DeflateParams)> {
        offers.iter().filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)).find_map(|offer| {
            let p = parse(offer).ok()?;
            let server_no_context_takeover = p.server_no_context_takeover || self.server_no_context_takeover;
            let client_no_context_takeover = p.client_no_context_takeover || self.client_no_context_takeover;
            let ours = self.server_max_window_bits.clamp(8, 15);
            let server_bits = p.server_max_window_bits.map_or(ours, |asked| asked.min(ours));
            // We may only ask the client for a smaller window if it said it supports one.
            let client_bits = match p.client_max_window_bits {
                None => 15,
                Some(limit) => limit.unwrap_or(15).min(self.client_max_window_bits.clamp(8, 15)),
            };
            let mut answer = Extension::new(PERMESSAGE_DEFLATE);
            if server_no_context_takeover {
                answer = answer.with_flag("server_no_context_takeover");
            }
            if client_no_context_takeover {
                answer = answer.with_flag("client_no_context_takeover");
            }
            if p.server_max_window_bits.is_some() || server_bits < 15 {
                answer = answer.with_value("server_max_window_bits", format!("{server_bits}"));
            }
            if p.client_max_window_bits.is_some() && client_bits < 15 {
                answer = answer.with_value("client_max_window_bits", format!("{client_bits}"));
            }
            let params = DeflateParams {
                server_no_context_takeover,
                client_no_context_takeover,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits,
            };
            Some((answer, params))
        })
    }

    /// Client side: checks the server's answer against what [`offer`](Self::offer) asked for and
    /// returns the agreed parameters. An error means the client must fail the connection.
    pub fn accept_response(&self, response: &Extension) -> Result<DeflateParams, DeflateError> {
        let p = parse(response)?;
        let server_bits = match p.server_max_window_bits {
            Some(bits) if self.server_max_window_bits < 15 && bits > self.server_max_window_bits => {
                return Err(DeflateError::NotOffered(format!("server_max_window_bits={bits}")));
            }
            Some(bits) => bits,
            None if self.server_max_window_bits < 15 => {
                // We asked for a limit and the server did not confirm it (§7.1.2.1: it must).
                return Err(DeflateError::NotOffered(String::from("a missing server_max_window_bits")));
            }
            None => 15,
        };
        if self.server_no_context_takeover && !p.server_no_context_takeover {
            return Err(DeflateError::NotOffered(String::from("a missing server_no_context_takeover")));
        }
        let client_bits = match p.client_max_window_bits {
            None => 15,
            Some(None) => return Err(DeflateError::InvalidValue(String::from("client_max_window_bits"))),
            Some(Some(bits)) if bits > self.client_max_window_bits => {
                return Err(DeflateError::NotOffered(format!("client_max_window_bits={bits}")));
            }
            Some(Some(bits)) => bits,
        };
        Ok(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        })
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::handshake::parse_extensions;

    fn offers(header: &str) -> Vec<Extension> {
        parse_extensions(header.as_bytes()).unwrap()
    }

    fn answer(e: &Extension) -> String {
        let mut s = String::new();
        crate::handshake::write_extensions(core::slice::from_ref(e), &mut s).unwrap();
        s
    }

    #[test]
    fn plain_offer_is_accepted_with_full_windows() {
        let (ext, params) = DeflateConfig::default().negotiate(&offers("permessage-deflate")).unwrap();
        assert_eq!(answer(&ext), "permessage-deflate");
        assert_eq!(
            params,
            DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 15
            }
        );
    }

    #[test]
    fn every_parameter_is_honoured() {
        let server = DeflateConfig { client_max_window_bits: 10, ..DeflateConfig::default() };
        let (ext, params) = server
            .negotiate(&offers(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits",
            ))
            .unwrap();
        assert_eq!(
            answer(&ext),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10"
        );
        assert_eq!(params.sender(Role::Server), (12, true));
        assert_eq!(params.sender(Role::Client), (10, true));
        // A client that did not mention client_max_window_bits cannot be asked for a smaller window.
        let (ext, params) = server.negotiate(&offers("permessage-deflate")).unwrap();
        assert_eq!(answer(&ext), "permessage-deflate");
        assert_eq!(params.client_max_window_bits, 15);
    }

    #[test]
    fn invalid_offers_are_declined_and_the_next_one_taken() {
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert_eq!(DeflateConfig::default().negotiate(&offers(bad)), None, "{bad}");
            let two = format!("{bad}, permessage-deflate; client_max_window_bits");
            let (ext, _) = DeflateConfig::default().negotiate(&offers(&two)).expect("the second offer");
            assert_eq!(answer(&ext), "permessage-deflate", "{two}");
        }
        assert_eq!(DeflateConfig::default().negotiate(&offers("x-webkit-deflate-frame")), None);
    }

    #[test]
    fn client_checks_the_answer() {
        let client = DeflateConfig { server_max_window_bits: 10, ..DeflateConfig::default() };
        assert_eq!(answer(&client.offer()), "permessage-deflate; server_max_window_bits=10; client_max_window_bits");
        let ok = offers("permessage-deflate; server_max_window_bits=9; client_max_window_bits=12");
        let params = client.accept_response(&ok[0]).unwrap();
        assert_eq!((params.server_max_window_bits, params.client_max_window_bits), (9, 12));
        for bad in [
            "permessage-deflate",                            // our limit not confirmed
            "permessage-deflate; server_max_window_bits=11", // above our limit
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=9; bogus",
        ] {
            assert!(client.accept_response(&offers(bad)[0]).is_err(), "{bad}");
        }
        let strict = DeflateConfig { client_max_window_bits: 11, ..DeflateConfig::default() };
        assert!(strict.accept_response(&offers("permessage-deflate; client_max_window_bits=12")[0]).is_err());
    }
}
