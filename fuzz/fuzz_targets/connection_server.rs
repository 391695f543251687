//! A server connection under an arbitrary script of peer bytes, EOF, time, writes and application
//! commands, with or without permessage-deflate. See `sansio_ws_fuzz::conn::run` for the
//! invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::Role;
use sansio_ws_fuzz::conn::{Op, run};
use sansio_ws_fuzz::{FuzzConfig, FuzzDeflate};

fuzz_target!(|input: (FuzzConfig, Option<FuzzDeflate>, Vec<Op>)| {
    run(Role::Server, &input.0, input.1.as_ref(), &input.2)
});
