//! Binance WebSocket API order-entry frames: `OrderEntryDecoder::decode` (responses, error
//! responses, `openOrders.status` and `account.status` results, execution reports) on arbitrary
//! bytes.
//!
//! The input is split at `\n` into frames (real frames hold no raw newline) and fed in order to
//! a decoder for this run's symbols and client-id prefix and to one for recordings (any run, any
//! symbol). Rejections are fine; a panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_gateway::binance::{OrderEntryDecoder, OrderEntryMessage, SymbolSpec};
use tickwire_gateway::ExecKind;

fn spec(name: &str, price_decimals: u32, qty_decimals: u32) -> SymbolSpec {
    SymbolSpec {
        name: name.into(),
        price_decimals,
        qty_decimals,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut decoders = [
        OrderEntryDecoder::new(vec![spec("ETHBTC", 8, 8), spec("BTCUSDT", 2, 5)], "tw7f-"),
        OrderEntryDecoder::for_recordings(8),
    ];
    // `decode` parses in place, so each call gets a fresh copy in this reused buffer.
    let mut frame = Vec::with_capacity(data.len());
    for bytes in data.split(|&b| b == b'\n') {
        for decoder in &mut decoders {
            frame.clear();
            frame.extend_from_slice(bytes);
            let Ok(message) = decoder.decode(&mut frame) else {
                continue;
            };
            let _ = message.kind();
            if let OrderEntryMessage::Execution(report) | OrderEntryMessage::ForeignFill(report) =
                message
            {
                if let ExecKind::Fill {
                    price, qty, leaves, ..
                } = report.kind
                {
                    assert!(price.0 > 0 && qty.0 > 0 && leaves.0 >= 0, "{report:?}");
                }
            }
            let _ = decoder.positions();
            let _ = decoder.take_foreign_orders();
        }
    }
});
