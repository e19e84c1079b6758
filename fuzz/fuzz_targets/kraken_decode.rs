//! Kraken v2 book frames: `KrakenDecoder::decode` on arbitrary bytes, and `KrakenBook::apply`
//! of every decoded book message with the decoder's levels.
//!
//! The input is split at `\n` into frames (real frames hold no raw newline) and fed in order to a
//! decoder with a fixed pair table and to a learning one (`any_symbol`), each with its own books,
//! so a snapshot and the updates after it can sit in one input. A subscribe response's depth sets
//! the depth of books created after it. Rejections and checksum mismatches are fine; a panic is
//! a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_feed::kraken::{
    BookCheck, KrakenBook, KrakenDecoder, KrakenMessage, SymbolSpec, DEFAULT_DEPTH,
};
use tickwire_feed::InstrumentId;

fn spec(symbol: &str, instrument: u16, price_decimals: u32, qty_decimals: u32) -> SymbolSpec {
    SymbolSpec {
        symbol: symbol.into(),
        instrument: InstrumentId(instrument),
        price_decimals,
        qty_decimals,
    }
}

/// A decoder and the books of the pairs it has produced book messages for.
struct Connection {
    decoder: KrakenDecoder,
    books: Vec<(InstrumentId, KrakenBook)>,
    /// Depth of the next book created (from the last book subscription response).
    depth: usize,
}

impl Connection {
    fn new(decoder: KrakenDecoder) -> Self {
        Self {
            decoder,
            books: Vec::new(),
            depth: DEFAULT_DEPTH,
        }
    }

    fn on_frame(&mut self, frame: &mut [u8]) {
        let Ok(message) = self.decoder.decode(frame) else {
            return;
        };
        let _ = message.kind();
        match message {
            KrakenMessage::Response(response) => {
                let _ = self.decoder.response_symbol();
                if let Some(depth) = response.book_depth {
                    self.depth = depth;
                }
            }
            KrakenMessage::Book(message) => {
                let index = self.book_index(message.instrument);
                let book = &mut self.books[index].1;
                let check = book.apply(&message, self.decoder.bids(), self.decoder.asks());
                let (bids, asks) = book.book().len();
                match check {
                    BookCheck::Match => {
                        assert!(book.is_synced());
                        assert!(bids <= book.depth() && asks <= book.depth());
                        assert_eq!(book.checksum(), message.checksum);
                    }
                    BookCheck::Mismatch { expected, .. } => {
                        assert_eq!(expected, message.checksum);
                        assert!(!book.is_synced() && book.book().is_empty());
                    }
                    BookCheck::Unsynced => assert!(!book.is_synced()),
                }
            }
            KrakenMessage::UpdateBeforeSnapshot
            | KrakenMessage::Heartbeat
            | KrakenMessage::Status => {}
        }
    }

    /// The index of `instrument`'s book, created at the current depth on first use.
    fn book_index(&mut self, instrument: InstrumentId) -> usize {
        if let Some(index) = self.books.iter().position(|(id, _)| *id == instrument) {
            return index;
        }
        self.books
            .push((instrument, KrakenBook::new(instrument, self.depth)));
        self.books.len() - 1
    }
}

fuzz_target!(|data: &[u8]| {
    let mut connections = [
        Connection::new(KrakenDecoder::new(vec![
            spec("BTC/USD", 0, 1, 8),
            spec("ETH/USD", 1, 2, 3),
            spec("MATIC/USD", 4, 4, 8),
        ])),
        Connection::new(KrakenDecoder::any_symbol()),
    ];
    // `decode` parses in place, so each call gets a fresh copy in this reused buffer.
    let mut frame = Vec::with_capacity(data.len());
    for bytes in data.split(|&b| b == b'\n') {
        for connection in &mut connections {
            frame.clear();
            frame.extend_from_slice(bytes);
            connection.on_frame(&mut frame);
        }
    }
});
