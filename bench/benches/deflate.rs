//! permessage-deflate overhead: sansio-ws compressing and inflating with deflate enabled, against
//! flate2 called directly on the same messages (same zlib-rs backend, level 6, 2^15 window, context
//! takeover). The ratio ours/direct is the library's overhead over what any permessage-deflate
//! implementation must do.
//!
//! `cargo bench --manifest-path bench/Cargo.toml --bench deflate`

use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use sansio_ws_bench::deflate::{
    DirectEncoder, DirectInflater, RefInflater, json_messages, ours_deflate_encoder, ours_inflating,
};
use sansio_ws_bench::{Batch, Decode, Encode, Rng, Workload, verify};

fn main() {
    divan::main();
}

/// 256 JSON-lines text messages of 1 KiB (256 KiB per iteration).
static JSON1K: LazyLock<Batch> = LazyLock::new(|| Batch::new(true, json_messages(20, 256, 1 << 10)));
/// 16 JSON-lines text messages of 64 KiB (1 MiB per iteration).
static JSON64K: LazyLock<Batch> = LazyLock::new(|| Batch::new(true, json_messages(21, 16, 64 << 10)));

/// The same messages as a client sends them compressed: one stream, decoded from its start.
static IN1K: LazyLock<Workload> = LazyLock::new(|| Workload::client_deflate(&mut Rng::new(22), true, &JSON1K.raw));
static IN64K: LazyLock<Workload> = LazyLock::new(|| Workload::client_deflate(&mut Rng::new(23), true, &JSON64K.raw));

fn compressing(bencher: Bencher<'_, '_>, batch: &'static Batch, mut enc: impl Encode) {
    // The first three batches are parsed back with the bench crate's parser, inflated with one
    // reference decompressor (the history runs across batches) and compared with the messages.
    let mut inflater = RefInflater::default();
    for _ in 0..3 {
        let n = enc.encode();
        let wire = enc.captured();
        assert_eq!(n, wire.len(), "captured output");
        batch.check_deflated_wire(&wire, false, &mut inflater);
    }
    // From then on the history before each batch is the same: so is the output.
    let len = enc.encode();
    let msgs = batch.raw.len();
    bencher.counter(ItemsCount::new(msgs)).counter(BytesCount::new(batch.payload_bytes())).bench_local(|| {
        let n = enc.encode();
        assert_eq!(n, len, "compressed length changed");
    });
}

fn decompressing<D: Decode>(bencher: Bencher<'_, '_>, w: &'static Workload, make: fn(&'static [u8]) -> D) {
    // One decoder's run with every message compared completely; the measured loop then checks every
    // message's kind, length and sampled bytes. With context takeover the stream decodes from its
    // start only, so each iteration gets a fresh decoder, made outside the timed section.
    verify(&mut make(&w.wire), w);
    bencher
        .counter(ItemsCount::new(w.len()))
        .counter(BytesCount::new(w.payload_bytes()))
        .with_inputs(|| make(&w.wire))
        .bench_local_refs(|dec| {
            let mut i = 0;
            dec.decode(w.len(), &mut |text, p| {
                w.check_fast(i, text, p);
                i += 1;
            });
        });
}

macro_rules! compress_group {
    ($name:ident, $batch:ident) => {
        #[divan::bench_group]
        mod $name {
            use super::*;

            #[divan::bench]
            fn sansio_ws(bencher: Bencher<'_, '_>) {
                compressing(bencher, &$batch, ours_deflate_encoder(&$batch));
            }

            #[divan::bench]
            fn flate2(bencher: Bencher<'_, '_>) {
                compressing(bencher, &$batch, DirectEncoder::new(&$batch));
            }
        }
    };
}

macro_rules! decompress_group {
    ($name:ident, $workload:ident) => {
        #[divan::bench_group]
        mod $name {
            use super::*;

            #[divan::bench]
            fn sansio_ws(bencher: Bencher<'_, '_>) {
                decompressing(bencher, &$workload, ours_inflating);
            }

            #[divan::bench]
            fn flate2(bencher: Bencher<'_, '_>) {
                decompressing(bencher, &$workload, DirectInflater::new);
            }
        }
    };
}

compress_group!(compress_json1k, JSON1K);
compress_group!(compress_json64k, JSON64K);
decompress_group!(decompress_json1k, IN1K);
decompress_group!(decompress_json64k, IN64K);
