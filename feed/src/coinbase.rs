//! Coinbase Advanced Trade WebSocket market data: the `level2` channel (messages of channel
//! `l2_data`, whose events are snapshots and updates of price levels) and the `subscriptions`
//! and `heartbeats` messages of the same connection, with field names and types as Coinbase
//! documents them
//! (<https://docs.cdp.coinbase.com/advanced-trade/docs/ws-channels#level2-channel>).
//!
//! # Exact values
//!
//! `price_level` and `new_quantity` are decimal strings, converted with [`parse_decimal`](crate::parse_decimal) at the
//! product's scale: a value with more decimals than the scale, or one that does not fit, is
//! rejected with an error naming the event, the update and the field. `new_quantity` is the
//! level's new size, not a change; `"0"` removes the level.
//!
//! # Sequence
//!
//! Every message of a connection carries `sequence_num`, one more than the message before it on
//! that connection, whatever its channel. [`CoinbaseBooks`] checks it: any other value is a gap.
//! A message was lost, and as the counter is shared by every product, every book is discarded
//! and waits for its next snapshot (the caller resubscribes to get one).
//!
//! # Allocation and bounds
//!
//! The decoder keeps simd-json's buffers, the tape, and the event and level buffers between
//! messages, so decoding allocates nothing once they have grown to the largest message; a book is
//! allocated once, when its product first appears. Frames are at most [`MAX_MESSAGE`] bytes,
//! messages at most [`MAX_EVENTS`] events and [`MAX_UPDATES`] updates; nothing panics on input.
//!
//! # Examples
//!
//! ```
//! use tickwire_feed::coinbase::{CoinbaseBooks, CoinbaseDecoder, SymbolSpec};
//! use tickwire_feed::{InstrumentId, Price, Qty};
//!
//! let mut decoder = CoinbaseDecoder::new(vec![SymbolSpec {
//!     symbol: "BTC-USD".into(),
//!     instrument: InstrumentId(0),
//!     price_decimals: 2,
//!     qty_decimals: 8,
//! }]);
//! let mut books = CoinbaseBooks::new(1000);
//! let mut frame = br#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z",
//!     "sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[
//!     {"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"}]}]}"#
//!     .to_vec();
//! let message = decoder.decode(&mut frame)?;
//! assert_eq!(books.on_message(&message, &decoder).gap, None);
//! let book = books.book(InstrumentId(0)).expect("seen");
//! assert_eq!(book.best_bid(), Some((Price(2_192_173), Qty(6_317_902))));
//! # Ok::<(), tickwire_feed::coinbase::CoinbaseError>(())
//! ```

pub use crate::binance::SymbolSpec;
use crate::book::OrderBook;
use crate::fixed::{InstrumentId, Price, Qty, Side};
use crate::json::{field, skip, Node, Obj, TapeParser};
pub use crate::json::{DecodeError, FieldProblem, MAX_MESSAGE};
pub use crate::kraken::BookKind;
use crate::kraken::Symbols;

/// Updates accepted in one message, all events together. A snapshot is the product's whole book
/// (tens of thousands of levels for a busy one), so the bound is what a [`MAX_MESSAGE`] frame of
/// documented updates can hold, not a depth.
pub const MAX_UPDATES: usize = 65_536;
/// Events accepted in one message.
pub const MAX_EVENTS: usize = 1024;

/// Why a frame was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CoinbaseError {
    /// Too large, not JSON, not an object, of no known channel, or an envelope field is wrong.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An event is wrong.
    #[error("event {event}: {problem}")]
    Event {
        /// Index of the event in `events`.
        event: usize,
        /// What is wrong.
        problem: DecodeError,
    },
    /// An event's `type` is neither `snapshot` nor `update`.
    #[error("event {event}: field \"type\": neither \"snapshot\" nor \"update\"")]
    EventType {
        /// Index of the event.
        event: usize,
    },
    /// An update is wrong.
    #[error("event {event}, update {index}: {problem}")]
    Update {
        /// Index of the event.
        event: usize,
        /// Index of the update in the event's `updates`.
        index: usize,
        /// What is wrong.
        problem: DecodeError,
    },
    /// An update's `side` is neither `bid` nor `offer`.
    #[error("event {event}, update {index}: field \"side\": neither \"bid\" nor \"offer\"")]
    Side {
        /// Index of the event.
        event: usize,
        /// Index of the update.
        index: usize,
    },
    /// More than [`MAX_EVENTS`] events.
    #[error("more than {max} events")]
    TooManyEvents {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_UPDATES`] updates.
    #[error("more than {max} updates")]
    TooManyUpdates {
        /// The limit.
        max: usize,
    },
}

/// The channel a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `l2_data`: book events, in [`CoinbaseDecoder::events`].
    L2Data,
    /// `subscriptions`: the subscriptions now open.
    Subscriptions,
    /// `heartbeats`.
    Heartbeats,
}

/// A decoded message's envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoinbaseMessage {
    /// Its channel.
    pub channel: Channel,
    /// Its place in the connection's sequence.
    pub sequence_num: u64,
}

impl CoinbaseMessage {
    /// The channel as the venue names it.
    pub fn kind(&self) -> &'static str {
        match self.channel {
            Channel::L2Data => "l2_data",
            Channel::Subscriptions => "subscriptions",
            Channel::Heartbeats => "heartbeats",
        }
    }
}

/// One event of an `l2_data` message; its levels are [`CoinbaseDecoder::levels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Event {
    /// Snapshot (the whole book) or update.
    pub kind: BookKind,
    /// The product.
    pub instrument: InstrumentId,
    /// Range of its levels in the decoder's level buffer.
    levels: (u32, u32),
}

/// Everything of the decoder but the parser, so a walk over the parser's tape can borrow it.
#[derive(Debug)]
struct DecoderState {
    symbols: Symbols,
    /// When set, an unknown product is added with these (price, qty) decimals.
    auto_decimals: Option<(u32, u32)>,
    events: Vec<L2Event>,
    /// The levels of every event of the message, in order; at most [`MAX_UPDATES`].
    levels: Vec<(Side, Price, Qty)>,
}

impl DecoderState {
    fn message(&mut self, nodes: &[Node<'_>]) -> Result<CoinbaseMessage, CoinbaseError> {
        self.events.clear();
        self.levels.clear();
        let o = Obj::at(nodes, 0).ok_or(DecodeError::NotObject)?;
        if o.get("channel").is_none() {
            return Err(DecodeError::UnknownKind.into());
        }
        let channel = match o.str("channel")? {
            "l2_data" => Channel::L2Data,
            "subscriptions" => Channel::Subscriptions,
            "heartbeats" => Channel::Heartbeats,
            _ => return Err(DecodeError::UnknownKind.into()),
        };
        let sequence_num = o.u64("sequence_num")?;
        let at = o
            .get("events")
            .ok_or(field("events", FieldProblem::Missing))?;
        let Some(Node::Array { len, .. }) = nodes.get(at) else {
            return Err(field("events", FieldProblem::WrongType).into());
        };
        if *len > MAX_EVENTS {
            return Err(CoinbaseError::TooManyEvents { max: MAX_EVENTS });
        }
        if channel == Channel::L2Data {
            let mut i = at + 1;
            for event in 0..*len {
                self.event(nodes, i, event)?;
                i = skip(nodes, i);
            }
        }
        Ok(CoinbaseMessage {
            channel,
            sequence_num,
        })
    }

    /// Reads the event at node `at` (index `event`) and its levels.
    fn event(&mut self, nodes: &[Node<'_>], at: usize, event: usize) -> Result<(), CoinbaseError> {
        let in_event = |problem| CoinbaseError::Event { event, problem };
        let e = Obj::at(nodes, at).ok_or(in_event(DecodeError::NotObject))?;
        let kind = match e.str("type").map_err(in_event)? {
            "snapshot" => BookKind::Snapshot,
            "update" => BookKind::Update,
            _ => return Err(CoinbaseError::EventType { event }),
        };
        let (instrument, price_decimals, qty_decimals) = self
            .spec(e.str("product_id").map_err(in_event)?)
            .map_err(in_event)?;
        let updates = e
            .get("updates")
            .ok_or(in_event(field("updates", FieldProblem::Missing)))?;
        let Some(Node::Array { len, .. }) = nodes.get(updates) else {
            return Err(in_event(field("updates", FieldProblem::WrongType)));
        };
        if self.levels.len() + *len > MAX_UPDATES {
            return Err(CoinbaseError::TooManyUpdates { max: MAX_UPDATES });
        }
        let start = self.levels.len();
        let mut i = updates + 1;
        for index in 0..*len {
            let in_update = |problem| CoinbaseError::Update {
                event,
                index,
                problem,
            };
            let u = Obj::at(nodes, i).ok_or(in_update(DecodeError::NotObject))?;
            let side = match u.str("side").map_err(in_update)? {
                "bid" => Side::Buy,
                "offer" => Side::Sell,
                _ => return Err(CoinbaseError::Side { event, index }),
            };
            let price = u
                .positive("price_level", price_decimals)
                .map_err(in_update)?;
            let qty = u.decimal("new_quantity", qty_decimals).map_err(in_update)?;
            if qty < 0 {
                return Err(in_update(field("new_quantity", FieldProblem::Negative)));
            }
            if qty == 0 && kind == BookKind::Snapshot {
                return Err(in_update(field("new_quantity", FieldProblem::NotPositive)));
            }
            self.levels.push((side, Price(price), Qty(qty)));
            i = skip(nodes, i);
        }
        // Both ends are at most MAX_UPDATES.
        self.events.push(L2Event {
            kind,
            instrument,
            levels: (start as u32, self.levels.len() as u32),
        });
        Ok(())
    }

    /// The product's instrument and decimals, adding it when the decoder accepts any product.
    fn spec(&mut self, symbol: &str) -> Result<(InstrumentId, u32, u32), DecodeError> {
        let scale = |s: &SymbolSpec| (s.instrument, s.price_decimals, s.qty_decimals);
        if let Some(spec) = self.symbols.find(symbol) {
            return Ok(scale(spec));
        }
        let (price, qty) = self.auto_decimals.ok_or(DecodeError::UnknownSymbol)?;
        self.symbols
            .add(symbol, price, qty)
            .map(scale)
            .ok_or(DecodeError::UnknownSymbol)
    }
}

/// The decoder: reusable parse buffers, the event and level buffers, and the product table.
#[derive(Debug)]
pub struct CoinbaseDecoder {
    parser: TapeParser,
    state: DecoderState,
}

impl CoinbaseDecoder {
    /// A decoder for `symbols` (product ids such as `BTC-USD`).
    pub fn new(symbols: Vec<SymbolSpec>) -> Self {
        Self {
            parser: TapeParser::default(),
            state: DecoderState {
                symbols: Symbols::new(symbols),
                auto_decimals: None,
                events: Vec::new(),
                levels: Vec::new(),
            },
        }
    }

    /// A decoder that accepts any product, numbering instruments in order of first appearance,
    /// with the given decimals (for replaying recordings without a config).
    pub fn any_symbol(price_decimals: u32, qty_decimals: u32) -> Self {
        let mut decoder = Self::new(Vec::new());
        decoder.state.auto_decimals = Some((price_decimals, qty_decimals));
        decoder
    }

    /// The products known so far, in instrument order for [`CoinbaseDecoder::any_symbol`].
    pub fn symbols(&self) -> &[SymbolSpec] {
        self.state.symbols.all()
    }

    /// The events of the last `l2_data` message (none for other channels).
    pub fn events(&self) -> &[L2Event] {
        &self.state.events
    }

    /// The levels of one of [`CoinbaseDecoder::events`], in message order.
    pub fn levels(&self, event: &L2Event) -> &[(Side, Price, Qty)] {
        let (start, end) = event.levels;
        self.state
            .levels
            .get(start as usize..end as usize)
            .unwrap_or(&[])
    }

    /// Decodes one frame (parsed in place, so `input` is modified).
    ///
    /// # Errors
    ///
    /// [`CoinbaseError`] naming what is wrong and where.
    pub fn decode(&mut self, input: &mut [u8]) -> Result<CoinbaseMessage, CoinbaseError> {
        let state = &mut self.state;
        self.parser.parse(input, |nodes| Ok(state.message(nodes)))?
    }
}

/// A message that did not follow the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceGap {
    /// The `sequence_num` due.
    pub expected: u64,
    /// The one received.
    pub received: u64,
}

/// What [`CoinbaseBooks::on_message`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct L2Outcome {
    /// The message broke the sequence: every book was discarded before its events were applied.
    pub gap: Option<SequenceGap>,
    /// Update events ignored because their book waits for a snapshot.
    pub unsynced: usize,
    /// Events that did not fit their book's capacity: that book was discarded.
    pub overflowed: usize,
}

#[derive(Debug, Clone)]
struct ProductBook {
    instrument: InstrumentId,
    book: OrderBook,
    /// Whether a snapshot is applied and nothing was lost since.
    synced: bool,
}

/// The books of one connection and its sequence check.
#[derive(Debug, Clone)]
pub struct CoinbaseBooks {
    /// Levels per side of each book.
    capacity: usize,
    /// The `sequence_num` the next message must carry; `None` before the first message.
    next_sequence: Option<u64>,
    /// One per product seen, in order of appearance.
    books: Vec<ProductBook>,
}

impl CoinbaseBooks {
    /// No books yet; each will hold at most `capacity` levels per side.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            next_sequence: None,
            books: Vec::new(),
        }
    }

    /// Checks a decoded message's place in the sequence and applies its events (those of the
    /// decoder's last message): a snapshot replaces its book, an update changes a synchronised
    /// book and is ignored otherwise.
    pub fn on_message(
        &mut self,
        message: &CoinbaseMessage,
        decoder: &CoinbaseDecoder,
    ) -> L2Outcome {
        let mut outcome = L2Outcome::default();
        if let Some(expected) = self.next_sequence {
            if message.sequence_num != expected {
                outcome.gap = Some(SequenceGap {
                    expected,
                    received: message.sequence_num,
                });
                for product in &mut self.books {
                    product.book.clear();
                    product.synced = false;
                }
            }
        }
        self.next_sequence = message.sequence_num.checked_add(1);
        for event in decoder.events() {
            let product = self.product(event.instrument);
            match event.kind {
                BookKind::Snapshot => {
                    product.book.clear();
                    product.synced = true;
                }
                BookKind::Update if !product.synced => {
                    outcome.unsynced += 1;
                    continue;
                }
                BookKind::Update => {}
            }
            for &(side, price, qty) in decoder.levels(event) {
                if product.book.set(side, price, qty).is_err() {
                    product.book.clear();
                    product.synced = false;
                    outcome.overflowed += 1;
                    break;
                }
            }
        }
        outcome
    }

    /// The book of `instrument`, created empty and unsynchronised on first use.
    fn product(&mut self, instrument: InstrumentId) -> &mut ProductBook {
        let index = match self.books.iter().position(|p| p.instrument == instrument) {
            Some(index) => index,
            None => {
                self.books.push(ProductBook {
                    instrument,
                    book: OrderBook::with_capacity(instrument, self.capacity),
                    synced: false,
                });
                self.books.len() - 1
            }
        };
        &mut self.books[index]
    }

    /// The book of a product seen so far (empty while it waits for a snapshot).
    pub fn book(&self, instrument: InstrumentId) -> Option<&OrderBook> {
        self.books
            .iter()
            .find(|p| p.instrument == instrument)
            .map(|p| &p.book)
    }

    /// Whether the product's book has a snapshot and nothing was lost since.
    pub fn is_synced(&self, instrument: InstrumentId) -> bool {
        self.books
            .iter()
            .any(|p| p.instrument == instrument && p.synced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::DecimalError;

    fn decoder() -> CoinbaseDecoder {
        CoinbaseDecoder::new(vec![SymbolSpec {
            symbol: "BTC-USD".into(),
            instrument: InstrumentId(2),
            price_decimals: 2,
            qty_decimals: 8,
        }])
    }

    fn decode(d: &mut CoinbaseDecoder, text: &str) -> Result<CoinbaseMessage, CoinbaseError> {
        let mut bytes = text.as_bytes().to_vec();
        d.decode(&mut bytes)
    }

    /// The level2 example of Coinbase's channel page, on one line.
    const DOC_SNAPSHOT: &str = r#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"},{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.3","new_quantity":"0.02"}]}]}"#;

    fn update(sequence_num: u64, updates: &str) -> String {
        format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:51.714964855Z","sequence_num":{sequence_num},"events":[{{"type":"update","product_id":"BTC-USD","updates":[{updates}]}}]}}"#
        )
    }

    fn offer(price: &str, qty: &str) -> String {
        format!(
            r#"{{"side":"offer","event_time":"2023-02-09T20:32:51.5Z","price_level":"{price}","new_quantity":"{qty}"}}"#
        )
    }

    #[test]
    fn documented_snapshot_then_updates_build_the_book() {
        let mut d = decoder();
        let mut books = CoinbaseBooks::new(100);
        let m = decode(&mut d, DOC_SNAPSHOT).expect("valid");
        assert_eq!(
            m,
            CoinbaseMessage {
                channel: Channel::L2Data,
                sequence_num: 0
            }
        );
        assert_eq!(d.events().len(), 1);
        assert_eq!(
            (d.events()[0].kind, d.events()[0].instrument),
            (BookKind::Snapshot, InstrumentId(2))
        );
        assert_eq!(
            d.levels(&d.events()[0]),
            &[
                (Side::Buy, Price(2_192_173), Qty(6_317_902)),
                (Side::Buy, Price(2_192_130), Qty(2_000_000))
            ]
        );
        assert_eq!(books.on_message(&m, &d), L2Outcome::default());
        let text = update(1, &[offer("21922.5", "1.5"), offer("21923", "2")].join(","));
        let m = decode(&mut d, &text).expect("valid");
        assert_eq!(books.on_message(&m, &d), L2Outcome::default());
        let text = update(2, &offer("21922.50", "0"));
        let m = decode(&mut d, &text).expect("valid");
        books.on_message(&m, &d);
        let book = books.book(InstrumentId(2)).expect("seen");
        assert_eq!(book.best_ask(), Some((Price(2_192_300), Qty(200_000_000))));
        assert_eq!(book.best_bid(), Some((Price(2_192_173), Qty(6_317_902))));
        assert!(books.is_synced(InstrumentId(2)));
    }

    #[test]
    fn subscriptions_and_heartbeats_are_valid_and_in_the_sequence() {
        let mut d = decoder();
        let mut books = CoinbaseBooks::new(100);
        let subscriptions = r#"{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"subscriptions":{"level2":["BTC-USD"],"heartbeats":["heartbeats"]}}]}"#;
        let heartbeats = r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":1,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":"3049"}]}"#;
        for (text, kind) in [(subscriptions, "subscriptions"), (heartbeats, "heartbeats")] {
            let m = decode(&mut d, text).expect("valid");
            assert_eq!(m.kind(), kind);
            assert!(d.events().is_empty());
            assert_eq!(books.on_message(&m, &d).gap, None);
        }
        let m = decode(
            &mut d,
            &DOC_SNAPSHOT.replace("\"sequence_num\":0", "\"sequence_num\":2"),
        )
        .expect("valid");
        assert_eq!(books.on_message(&m, &d).gap, None);
    }

    #[test]
    fn a_sequence_gap_discards_every_book_until_its_snapshot() {
        let mut d = decoder();
        let mut books = CoinbaseBooks::new(100);
        let m = decode(&mut d, DOC_SNAPSHOT).expect("valid");
        books.on_message(&m, &d);
        let m = decode(&mut d, &update(2, &offer("21930", "1"))).expect("valid");
        assert_eq!(
            books.on_message(&m, &d),
            L2Outcome {
                gap: Some(SequenceGap {
                    expected: 1,
                    received: 2
                }),
                unsynced: 1,
                overflowed: 0,
            }
        );
        assert!(!books.is_synced(InstrumentId(2)));
        assert!(books.book(InstrumentId(2)).expect("seen").is_empty());
        let m = decode(&mut d, &update(3, &offer("21931", "1"))).expect("valid");
        assert_eq!(books.on_message(&m, &d).unsynced, 1, "waits for a snapshot");
        let snapshot = DOC_SNAPSHOT.replace("\"sequence_num\":0", "\"sequence_num\":4");
        let m = decode(&mut d, &snapshot).expect("valid");
        assert_eq!(books.on_message(&m, &d), L2Outcome::default());
        assert!(books.is_synced(InstrumentId(2)));
        // Going backwards is a gap too.
        let m = decode(&mut d, &update(4, &offer("21931", "1"))).expect("valid");
        assert_eq!(
            books.on_message(&m, &d).gap,
            Some(SequenceGap {
                expected: 5,
                received: 4
            })
        );
    }

    #[test]
    fn a_book_that_overflows_is_discarded() {
        let mut d = decoder();
        let mut books = CoinbaseBooks::new(1);
        let m = decode(&mut d, DOC_SNAPSHOT).expect("valid");
        assert_eq!(books.on_message(&m, &d).overflowed, 1);
        assert!(!books.is_synced(InstrumentId(2)));
    }

    #[test]
    fn hostile_inputs_are_rejected_with_a_named_error() {
        let mut d = decoder();
        let updates = |u: &str| update(1, u);
        let in_update = |index, problem| CoinbaseError::Update {
            event: 0,
            index,
            problem,
        };
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let huge_string = update(1, "").replace("BTC-USD", &"X".repeat(1 << 20));
        let compact = r#"{"side":"bid","price_level":"1","new_quantity":"1"}"#;
        let many_updates = updates(&vec![compact; MAX_UPDATES + 1].join(","));
        let many_events = format!(
            r#"{{"channel":"l2_data","sequence_num":1,"events":[{}]}}"#,
            vec!["{}"; MAX_EVENTS + 1].join(",")
        );
        let cases: Vec<(String, CoinbaseError)> = vec![
            (DOC_SNAPSHOT[..150].into(), DecodeError::Json { at: 0 }.into()),
            ("[1,2]".into(), DecodeError::NotObject.into()),
            (deep, DecodeError::NotObject.into()),
            (r#"{"type":"error","message":"failure to subscribe"}"#.into(), DecodeError::UnknownKind.into()),
            (r#"{"channel":"ticker","sequence_num":1,"events":[]}"#.into(), DecodeError::UnknownKind.into()),
            (r#"{"channel":["l2_data"]}"#.into(), field("channel", FieldProblem::WrongType).into()),
            (r#"{"channel":"l2_data","events":[]}"#.into(), field("sequence_num", FieldProblem::Missing).into()),
            (r#"{"channel":"l2_data","sequence_num":-1,"events":[]}"#.into(), field("sequence_num", FieldProblem::Negative).into()),
            (r#"{"channel":"l2_data","sequence_num":"1","events":[]}"#.into(), field("sequence_num", FieldProblem::WrongType).into()),
            (r#"{"channel":"l2_data","sequence_num":1.5,"events":[]}"#.into(), field("sequence_num", FieldProblem::WrongType).into()),
            // An integer past 64 bits is refused by the parser itself.
            (r#"{"channel":"l2_data","sequence_num":99999999999999999999,"events":[]}"#.into(), DecodeError::Json { at: 0 }.into()),
            (r#"{"channel":"l2_data","sequence_num":1,"events":{}}"#.into(), field("events", FieldProblem::WrongType).into()),
            (r#"{"channel":"l2_data","sequence_num":1,"events":[5]}"#.into(), CoinbaseError::Event { event: 0, problem: DecodeError::NotObject }),
            (r#"{"channel":"l2_data","sequence_num":1,"events":[{"type":"delta","product_id":"BTC-USD","updates":[]}]}"#.into(), CoinbaseError::EventType { event: 0 }),
            (r#"{"channel":"l2_data","sequence_num":1,"events":[{"type":"update","product_id":"ETH-USD","updates":[]}]}"#.into(), CoinbaseError::Event { event: 0, problem: DecodeError::UnknownSymbol }),
            (r#"{"channel":"l2_data","sequence_num":1,"events":[{"type":"update","product_id":"BTC-USD"}]}"#.into(), CoinbaseError::Event { event: 0, problem: field("updates", FieldProblem::Missing) }),
            (updates("[]"), in_update(0, DecodeError::NotObject)),
            (updates(&offer("1", "1").replace("offer", "ask")), CoinbaseError::Side { event: 0, index: 0 }),
            (updates(&offer("1", "1").replace("\"side\":\"offer\",", "")), in_update(0, field("side", FieldProblem::Missing))),
            (updates(&offer("1", "1").replace("\"1\"}", "1}")), in_update(0, field("new_quantity", FieldProblem::WrongType))),
            (updates(&[offer("1", "1"), offer("21921.735", "1")].join(",")), in_update(1, field("price_level", FieldProblem::Decimal(DecimalError::TooPrecise(2))))),
            (updates(&offer("99999999999999999999", "1")), in_update(0, field("price_level", FieldProblem::Decimal(DecimalError::Overflow)))),
            (updates(&offer("0", "1")), in_update(0, field("price_level", FieldProblem::NotPositive))),
            (updates(&offer("-1", "1")), in_update(0, field("price_level", FieldProblem::NotPositive))),
            (updates(&offer("1", "-0.5")), in_update(0, field("new_quantity", FieldProblem::Negative))),
            (updates(&offer("NaN", "1")), in_update(0, field("price_level", FieldProblem::Decimal(DecimalError::BadChar(0))))),
            (updates(&offer("Infinity", "1")), in_update(0, field("price_level", FieldProblem::Decimal(DecimalError::BadChar(0))))),
            (updates(&offer("1e5", "1")), in_update(0, field("price_level", FieldProblem::Decimal(DecimalError::BadChar(1))))),
            (updates(&offer("", "1")), in_update(0, field("price_level", FieldProblem::Decimal(DecimalError::Empty)))),
            (DOC_SNAPSHOT.replace("\"0.02\"", "\"0\""), in_update(1, field("new_quantity", FieldProblem::NotPositive))),
            (huge_string, CoinbaseError::Event { event: 0, problem: DecodeError::UnknownSymbol }),
            (many_updates, CoinbaseError::TooManyUpdates { max: MAX_UPDATES }),
            (many_events, CoinbaseError::TooManyEvents { max: MAX_EVENTS }),
        ];
        for (text, expected) in cases {
            let got = decode(&mut d, &text);
            match (got, expected) {
                (
                    Err(CoinbaseError::Decode(DecodeError::Json { .. })),
                    CoinbaseError::Decode(DecodeError::Json { .. } | DecodeError::NotObject),
                ) => {}
                (got, expected) => {
                    assert_eq!(got, Err(expected), "{}", &text[..text.len().min(120)])
                }
            }
            let shown = decode(&mut d, &text).map_or_else(|e| e.to_string(), |m| m.kind().into());
            assert!(!shown.is_empty());
        }
        let mut invalid_utf8 = b"{\"channel\":\"l2_data\",\"x\":\"\xff\xfe\"}".to_vec();
        assert!(matches!(
            d.decode(&mut invalid_utf8),
            Err(CoinbaseError::Decode(DecodeError::Json { .. }))
        ));
        let mut oversize = vec![b' '; MAX_MESSAGE + 1];
        assert_eq!(
            d.decode(&mut oversize),
            Err(DecodeError::Oversize {
                len: MAX_MESSAGE + 1
            }
            .into())
        );
        assert_eq!(
            in_update(
                1,
                field(
                    "price_level",
                    FieldProblem::Decimal(DecimalError::TooPrecise(2))
                )
            )
            .to_string(),
            "event 0, update 1: field \"price_level\": more than 2 decimals"
        );
        // The decoder still works after every rejection.
        assert!(decode(&mut d, DOC_SNAPSHOT).is_ok());
    }
}
