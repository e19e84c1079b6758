//! Coinbase Advanced Trade frames: `CoinbaseDecoder::decode` on arbitrary bytes, and
//! `CoinbaseBooks::on_message` of every decoded message.
//!
//! The input is split at `\n` into frames (real frames hold no raw newline) and fed in order to a
//! decoder with a fixed product table and to one that accepts any product, each with its own
//! books (one with room for few levels, so the overflow path is reached too), so snapshots,
//! updates and sequence gaps can follow each other in one input. Rejections are fine; a panic is
//! a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_feed::coinbase::{CoinbaseBooks, CoinbaseDecoder, SymbolSpec};
use tickwire_feed::InstrumentId;

fn spec(symbol: &str, instrument: u16, price_decimals: u32, qty_decimals: u32) -> SymbolSpec {
    SymbolSpec {
        symbol: symbol.into(),
        instrument: InstrumentId(instrument),
        price_decimals,
        qty_decimals,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut connections = [
        (
            CoinbaseDecoder::new(vec![spec("BTC-USD", 2, 2, 8), spec("ETH-EUR", 0, 2, 8)]),
            CoinbaseBooks::new(1000),
        ),
        (CoinbaseDecoder::any_symbol(2, 8), CoinbaseBooks::new(4)),
    ];
    // `decode` parses in place, so each call gets a fresh copy in this reused buffer.
    let mut frame = Vec::with_capacity(data.len());
    for bytes in data.split(|&b| b == b'\n') {
        for (decoder, books) in &mut connections {
            frame.clear();
            frame.extend_from_slice(bytes);
            let Ok(message) = decoder.decode(&mut frame) else {
                continue;
            };
            let _ = message.kind();
            let mut levels = 0;
            for event in decoder.events() {
                levels += decoder.levels(event).len();
            }
            let outcome = books.on_message(&message, decoder);
            assert!(outcome.unsynced + outcome.overflowed <= decoder.events().len());
            assert!(levels <= tickwire_feed::coinbase::MAX_UPDATES);
            for event in decoder.events() {
                let synced = books.is_synced(event.instrument);
                let book = books
                    .book(event.instrument)
                    .expect("a book per event's product");
                if synced {
                    let _ = book.book_top(0);
                } else {
                    assert!(book.is_empty(), "an unsynced book is empty");
                }
            }
        }
    }
});
