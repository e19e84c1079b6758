//! Binance market-data frames: `BinanceDecoder::decode` (bookTicker, depthUpdate, trade, raw or
//! in the combined-stream wrapper) and `BinanceDecoder::decode_snapshot` on arbitrary bytes.
//!
//! The input is split at `\n` into frames (real frames hold no raw newline), fed in order to a
//! decoder with a fixed symbol table and to one that learns symbols, so one input can reach the
//! states a sequence of messages leaves behind. Rejections are fine; a panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_feed::binance::{BinanceDecoder, BinanceMessage, SymbolSpec};
use tickwire_feed::InstrumentId;

fn spec(symbol: &str, instrument: u16, price_decimals: u32, qty_decimals: u32) -> SymbolSpec {
    SymbolSpec {
        symbol: symbol.into(),
        instrument: InstrumentId(instrument),
        price_decimals,
        qty_decimals,
    }
}

/// Checks what a decoded message promises about the decoder's level buffers.
fn check(decoder: &BinanceDecoder, message: &BinanceMessage) {
    let _ = message.kind();
    if let BinanceMessage::DepthUpdate(update) = message {
        assert!(update.first_update_id <= update.last_update_id);
        for &(price, qty) in decoder.bids().iter().chain(decoder.asks()) {
            assert!(price.0 > 0 && qty.0 >= 0, "level {price:?} {qty:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut known = BinanceDecoder::new(vec![
        spec("BTCUSDT", 0, 2, 5),
        spec("BNBUSDT", 3, 8, 8),
        spec("ETHBTC", 7, 18, 0),
    ]);
    let mut learning = BinanceDecoder::any_symbol(8, 8);
    // `decode` parses in place, so each call gets a fresh copy in this reused buffer.
    let mut frame = Vec::with_capacity(data.len());
    for bytes in data.split(|&b| b == b'\n') {
        for decoder in [&mut known, &mut learning] {
            frame.clear();
            frame.extend_from_slice(bytes);
            if let Ok(message) = decoder.decode(&mut frame, 42) {
                check(decoder, &message);
            }
        }
        for instrument in [InstrumentId(0), InstrumentId(3), InstrumentId(9)] {
            frame.clear();
            frame.extend_from_slice(bytes);
            if known.decode_snapshot(&mut frame, instrument).is_ok() {
                for &(price, qty) in known.bids().iter().chain(known.asks()) {
                    assert!(price.0 > 0 && qty.0 > 0, "snapshot level {price:?} {qty:?}");
                }
            }
        }
        assert!(learning.symbols().len() <= usize::from(u16::MAX));
    }
});
