//! A client and a server over a simulated network, under an arbitrary script of sends, closes,
//! aborts, time, latency, chunking and pauses. See `sansio_ws_fuzz::pair::run` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws_fuzz::pair::{PairOp, Setup, run};

fuzz_target!(|input: (Setup, Vec<PairOp>)| run(&input.0, &input.1));
