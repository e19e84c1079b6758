//! Kraken spot WebSocket v2 market data: the `book` channel — snapshots and updates of price
//! levels, each carrying the CRC32 checksum of the top of the book — and the other messages of a
//! book connection (`heartbeat`, `status`, and the responses to `subscribe`, `unsubscribe` and
//! `ping`), with field names and types as Kraken documents them
//! (<https://docs.kraken.com/api/docs/websocket-v2/book>).
//!
//! # Exact values from JSON numbers
//!
//! v2 sends `price` and `qty` as JSON numbers. They never go through `f64`: before simd-json
//! parses a frame, [`KrakenDecoder`] scans the raw bytes for the number tokens outside strings
//! and copies their text, in document order. The k-th number node of the parsed tape is the
//! k-th token (the counts are checked), and [`parse_decimal`] converts its text at the pair's
//! precision. A value with more decimals than that precision, or one that does not fit in 64
//! bits, is rejected with an error naming the side, the level and the field.
//!
//! # The book and its checksum
//!
//! [`KrakenBook`] applies a message's levels in order (a quantity of 0 removes the level), then
//! truncates each side to the subscribed depth (Kraken sends no removal for levels that fall out
//! of it), then recomputes Kraken's checksum: for the ten best asks (price ascending) and then the
//! ten best bids (price descending), each price and then each quantity is written at the pair's
//! precision with the decimal point and the leading zeros removed; the concatenation is
//! CRC32-hashed and compared with the message's `checksum`. Because the decoder stores values at
//! the pair's precision, that digit string is exactly the decimal digits of the stored integer.
//! A mismatch discards the book: the caller resubscribes and waits for a snapshot.
//!
//! # Allocation and bounds
//!
//! The decoder keeps simd-json's buffers, the tape, the number texts and the level buffers
//! between messages, so decoding allocates nothing once they have grown to the largest message;
//! a [`KrakenBook`] allocates its capacity once, and applying a message or computing a checksum
//! allocates nothing. Frames are at most [`MAX_MESSAGE`] bytes, sides at most [`MAX_LEVELS`]
//! levels and frames at most [`MAX_NUMBERS`] numbers; nothing panics on input.
//!
//! # Examples
//!
//! ```
//! use tickwire_feed::binance::SymbolSpec;
//! use tickwire_feed::kraken::{BookCheck, KrakenBook, KrakenDecoder, KrakenMessage};
//! use tickwire_feed::InstrumentId;
//!
//! let mut decoder = KrakenDecoder::new(vec![SymbolSpec {
//!     symbol: "BTC/USD".into(),
//!     instrument: InstrumentId(0),
//!     price_decimals: 1,
//!     qty_decimals: 8,
//! }]);
//! let mut book = KrakenBook::new(InstrumentId(0), 10);
//! let mut frame = br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD",
//!     "bids":[{"price":45283.5,"qty":0.10000000}],"asks":[{"price":45285.2,"qty":0.00100000}],
//!     "checksum":2383917627,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#.to_vec();
//! let KrakenMessage::Book(message) = decoder.decode(&mut frame)? else { unreachable!() };
//! assert_eq!(book.apply(&message, decoder.bids(), decoder.asks()), BookCheck::Match);
//! # Ok::<(), tickwire_feed::kraken::KrakenError>(())
//! ```

pub use crate::binance::{SymbolSpec, MAX_LEVELS};
use crate::book::OrderBook;
use crate::fixed::{parse_decimal, DecimalError, InstrumentId, Price, Qty, Side};
use crate::json::{field, skip, Node, Obj, StaticNode, TapeParser};
pub use crate::json::{DecodeError, FieldProblem, MAX_MESSAGE};

/// Depth of a book subscription when none is given.
pub const DEFAULT_DEPTH: usize = 10;
/// The depths Kraken accepts for a book subscription.
pub const DEPTHS: [usize; 5] = [10, 25, 100, 500, 1000];
/// Levels per side the checksum covers, whatever the subscribed depth.
pub const CHECKSUM_LEVELS: usize = 10;
/// Number tokens accepted in one frame: two per level on two full sides, and room for the
/// envelope's own numbers.
pub const MAX_NUMBERS: usize = 4 * MAX_LEVELS + 64;
/// Most decimals [`KrakenDecoder::any_symbol`] learns for a pair (Kraken's precisions are far
/// below it; a value past it is rejected, never rounded).
pub const MAX_LEARNED_DECIMALS: u32 = 12;

/// Bytes of the checksum string at most: two sides of [`CHECKSUM_LEVELS`] levels, two values per
/// level, at most 20 digits per value.
const CHECKSUM_BYTES: usize = 2 * CHECKSUM_LEVELS * 2 * 20;

/// Why a frame was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KrakenError {
    /// Too large, not JSON, not an object, of no known kind, or a top-level field is wrong.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A price level is wrong.
    #[error("{side} level {index}, field {field:?}: {problem}")]
    Level {
        /// `"bids"` or `"asks"`.
        side: &'static str,
        /// Index of the level in the message.
        index: usize,
        /// `"price"` or `"qty"`.
        field: &'static str,
        /// What is wrong.
        problem: FieldProblem,
    },
    /// A field holds a value the protocol does not define (`type`, `method`, a book `depth`).
    #[error("field {field:?}: unexpected value")]
    UnknownValue {
        /// The field.
        field: &'static str,
    },
    /// A book message whose `data` is not exactly one entry (Kraken documents one).
    #[error("field \"data\": {len} entries, expected exactly one")]
    DataEntries {
        /// Entries present.
        len: usize,
    },
    /// More number tokens than [`MAX_NUMBERS`].
    #[error("more than {max} numbers in the frame")]
    TooManyNumbers {
        /// The limit.
        max: usize,
    },
    /// The byte scan and the parser disagree on how many numbers the frame holds (never for
    /// valid JSON; checked rather than assumed, so a number is never paired with another's text).
    #[error("{scanned} number tokens scanned but {parsed} numbers parsed")]
    NumberMismatch {
        /// Tokens found by the scan.
        scanned: usize,
        /// Number nodes in the tape.
        parsed: usize,
    },
}

/// Whether a message replaces the book or changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookKind {
    /// The whole book (up to the depth).
    Snapshot,
    /// Changed levels; quantity 0 removes a level.
    Update,
}

/// A `book` message's header; its levels are in [`KrakenDecoder::bids`] and
/// [`KrakenDecoder::asks`], in message order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookMessage {
    /// Snapshot or update.
    pub kind: BookKind,
    /// The pair.
    pub instrument: InstrumentId,
    /// The CRC32 the book must have once the message is applied.
    pub checksum: u32,
}

/// The request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `subscribe`.
    Subscribe,
    /// `unsubscribe`.
    Unsubscribe,
    /// `pong`, the answer to a `ping`.
    Pong,
}

/// A response to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// What it answers.
    pub method: Method,
    /// Whether the request succeeded (`pong` has no `success` field and is a success).
    pub success: bool,
    /// `result.depth` when the result is a `book` subscription; its symbol is
    /// [`KrakenDecoder::response_symbol`].
    pub book_depth: Option<usize>,
}

/// A decoded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KrakenMessage {
    /// A `book` snapshot or update.
    Book(BookMessage),
    /// A `book` update of a pair a learning decoder ([`KrakenDecoder::any_symbol`]) has not seen
    /// a snapshot of: checked but not converted, since the pair's precision is not known yet.
    UpdateBeforeSnapshot,
    /// `{"channel":"heartbeat"}`.
    Heartbeat,
    /// A `status` message (sent on connect).
    Status,
    /// A response to `subscribe`, `unsubscribe` or `ping`.
    Response(Response),
}

impl KrakenMessage {
    /// The message kind: `snapshot`, `update`, `heartbeat`, `status`, or the method answered.
    pub fn kind(&self) -> &'static str {
        match self {
            KrakenMessage::Book(BookMessage {
                kind: BookKind::Snapshot,
                ..
            }) => "snapshot",
            KrakenMessage::Book(_) | KrakenMessage::UpdateBeforeSnapshot => "update",
            KrakenMessage::Heartbeat => "heartbeat",
            KrakenMessage::Status => "status",
            KrakenMessage::Response(r) => match r.method {
                Method::Subscribe => "subscribe",
                Method::Unsubscribe => "unsubscribe",
                Method::Pong => "pong",
            },
        }
    }
}

/// A decoder's instruments by venue symbol (shared by the Kraken and Coinbase decoders).
#[derive(Debug, Clone, Default)]
pub(crate) struct Symbols(Vec<SymbolSpec>);

impl Symbols {
    pub(crate) fn new(specs: Vec<SymbolSpec>) -> Self {
        Self(specs)
    }

    pub(crate) fn all(&self) -> &[SymbolSpec] {
        &self.0
    }

    pub(crate) fn find(&self, symbol: &str) -> Option<&SymbolSpec> {
        self.0.iter().find(|s| s.symbol == symbol)
    }

    /// Adds `symbol` as the next instrument (numbered in order of addition); `None` once the
    /// instrument ids are exhausted.
    pub(crate) fn add(
        &mut self,
        symbol: &str,
        price_decimals: u32,
        qty_decimals: u32,
    ) -> Option<&SymbolSpec> {
        let instrument = InstrumentId(u16::try_from(self.0.len()).ok()?);
        self.0.push(SymbolSpec {
            symbol: symbol.to_string(),
            instrument,
            price_decimals,
            qty_decimals,
        });
        self.0.last()
    }
}

/// The source text of every number token of the current frame, in document order.
#[derive(Debug, Default)]
struct NumberTexts {
    /// The tokens' bytes, back to back.
    text: Vec<u8>,
    /// `(start, end)` of each token in `text`; at most [`MAX_NUMBERS`] entries.
    spans: Vec<(u32, u32)>,
    /// Tape index of each number node, ascending; once indexed, as many as `spans`.
    nodes: Vec<u32>,
}

impl NumberTexts {
    /// Records the number tokens of `frame` (at most [`MAX_MESSAGE`] bytes). In valid JSON a
    /// byte outside strings that starts a number is `-` or a digit, and the token runs over
    /// digits, `.`, `e`, `E`, `+` and `-`; anything else the scan passes over is rejected by the
    /// parser afterwards.
    fn scan(&mut self, frame: &[u8]) -> Result<(), KrakenError> {
        debug_assert!(frame.len() <= MAX_MESSAGE, "offsets fit in u32");
        self.text.clear();
        self.spans.clear();
        self.nodes.clear();
        let mut i = 0;
        while let Some(&b) = frame.get(i) {
            match b {
                b'"' => i = string_end(frame, i + 1),
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    while frame.get(i).is_some_and(|c| {
                        matches!(c, b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E')
                    }) {
                        i += 1;
                    }
                    if self.spans.len() == MAX_NUMBERS {
                        return Err(KrakenError::TooManyNumbers { max: MAX_NUMBERS });
                    }
                    let from = self.text.len() as u32;
                    self.text.extend_from_slice(&frame[start..i]);
                    self.spans.push((from, self.text.len() as u32));
                }
                _ => i += 1,
            }
        }
        Ok(())
    }

    /// Pairs the tape's number nodes with the scanned tokens.
    fn index(&mut self, nodes: &[Node<'_>]) -> Result<(), KrakenError> {
        for (i, node) in nodes.iter().enumerate() {
            if matches!(node, Node::Static(s) if !matches!(s, StaticNode::Bool(_) | StaticNode::Null))
            {
                self.nodes.push(i as u32);
            }
        }
        if self.nodes.len() != self.spans.len() {
            return Err(KrakenError::NumberMismatch {
                scanned: self.spans.len(),
                parsed: self.nodes.len(),
            });
        }
        Ok(())
    }

    /// The source text of the number at tape index `node`; `None` if it is not a number.
    fn text(&self, node: usize) -> Option<&[u8]> {
        let k = self.nodes.binary_search(&u32::try_from(node).ok()?).ok()?;
        let &(start, end) = self.spans.get(k)?;
        self.text.get(start as usize..end as usize)
    }
}

/// Index just past the closing quote of the string whose content starts at `i` (the end of
/// `frame` if it is unterminated).
fn string_end(frame: &[u8], mut i: usize) -> usize {
    while let Some(&b) = frame.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    frame.len()
}

/// Digits after the decimal point of a number token.
fn fraction_digits(text: &[u8]) -> u32 {
    match text.iter().position(|&b| b == b'.') {
        Some(dot) => text[dot + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count() as u32,
        None => 0,
    }
}

/// Reads a side's levels (`[{"price":..,"qty":..},..]`) into `out` at the given decimals;
/// prices must be positive, quantities non-negative (positive in a snapshot).
fn levels(
    numbers: &NumberTexts,
    nodes: &[Node<'_>],
    at: Option<usize>,
    side: &'static str,
    (price_decimals, qty_decimals): (u32, u32),
    kind: BookKind,
    out: &mut Vec<(Price, Qty)>,
) -> Result<(), KrakenError> {
    out.clear();
    let at = at.ok_or(field(side, FieldProblem::Missing))?;
    let Some(Node::Array { len, .. }) = nodes.get(at) else {
        return Err(field(side, FieldProblem::WrongType).into());
    };
    if *len > MAX_LEVELS {
        return Err(DecodeError::TooManyLevels {
            side,
            max: MAX_LEVELS,
        }
        .into());
    }
    let mut i = at + 1;
    for index in 0..*len {
        let level = Obj::at(nodes, i).ok_or(DecodeError::Level {
            side,
            index,
            problem: FieldProblem::WrongType,
        })?;
        let error = |field, problem| KrakenError::Level {
            side,
            index,
            field,
            problem,
        };
        let value = |name: &'static str, decimals| {
            let node = level.get(name).ok_or(error(name, FieldProblem::Missing))?;
            let text = numbers
                .text(node)
                .ok_or(error(name, FieldProblem::WrongType))?;
            parse_decimal(text, decimals).map_err(|e| error(name, FieldProblem::Decimal(e)))
        };
        let price = value("price", price_decimals)?;
        let qty = value("qty", qty_decimals)?;
        if price <= 0 {
            return Err(error("price", FieldProblem::NotPositive));
        }
        if qty < 0 {
            return Err(error("qty", FieldProblem::Negative));
        }
        if qty == 0 && kind == BookKind::Snapshot {
            return Err(error("qty", FieldProblem::NotPositive));
        }
        out.push((Price(price), Qty(qty)));
        i = skip(nodes, i);
    }
    Ok(())
}

/// Everything of the decoder but the parser, so a walk over the parser's tape can borrow it.
#[derive(Debug)]
struct DecoderState {
    symbols: Symbols,
    /// Whether unknown pairs are added, with the precision of their first snapshot.
    learn: bool,
    numbers: NumberTexts,
    bids: Vec<(Price, Qty)>,
    asks: Vec<(Price, Qty)>,
    response_symbol: String,
}

impl DecoderState {
    fn message(&mut self, nodes: &[Node<'_>]) -> Result<KrakenMessage, KrakenError> {
        self.numbers.index(nodes)?;
        self.bids.clear();
        self.asks.clear();
        let o = Obj::at(nodes, 0).ok_or(DecodeError::NotObject)?;
        if o.get("method").is_some() {
            return self.response(nodes, &o);
        }
        if o.get("channel").is_none() {
            return Err(DecodeError::UnknownKind.into());
        }
        match o.str("channel")? {
            "book" => self.book(nodes, &o),
            "heartbeat" => Ok(KrakenMessage::Heartbeat),
            "status" => match o.get("data").and_then(|i| nodes.get(i)) {
                Some(Node::Array { .. }) => Ok(KrakenMessage::Status),
                Some(_) => Err(field("data", FieldProblem::WrongType).into()),
                None => Err(field("data", FieldProblem::Missing).into()),
            },
            _ => Err(DecodeError::UnknownKind.into()),
        }
    }

    fn response(
        &mut self,
        nodes: &[Node<'_>],
        o: &Obj<'_, '_>,
    ) -> Result<KrakenMessage, KrakenError> {
        let method = match o.str("method")? {
            "subscribe" => Method::Subscribe,
            "unsubscribe" => Method::Unsubscribe,
            "pong" => Method::Pong,
            _ => return Err(KrakenError::UnknownValue { field: "method" }),
        };
        let success = match o.get("success") {
            None if method == Method::Pong => true,
            _ => o.bool("success")?,
        };
        let mut book_depth = None;
        if let Some(at) = o.get("result") {
            let result = Obj::at(nodes, at).ok_or(field("result", FieldProblem::WrongType))?;
            if result.get("channel").is_some() && result.str("channel")? == "book" {
                self.response_symbol.push_str(result.str("symbol")?);
                if result.get("depth").is_some() {
                    let depth = result.u64("depth")?;
                    book_depth = Some(
                        DEPTHS
                            .into_iter()
                            .find(|&d| d as u64 == depth)
                            .ok_or(KrakenError::UnknownValue { field: "depth" })?,
                    );
                }
            }
        }
        Ok(KrakenMessage::Response(Response {
            method,
            success,
            book_depth,
        }))
    }

    fn book(&mut self, nodes: &[Node<'_>], o: &Obj<'_, '_>) -> Result<KrakenMessage, KrakenError> {
        let kind = match o.str("type")? {
            "snapshot" => BookKind::Snapshot,
            "update" => BookKind::Update,
            _ => return Err(KrakenError::UnknownValue { field: "type" }),
        };
        let data = o.get("data").ok_or(field("data", FieldProblem::Missing))?;
        let Some(Node::Array { len, .. }) = nodes.get(data) else {
            return Err(field("data", FieldProblem::WrongType).into());
        };
        if *len != 1 {
            return Err(KrakenError::DataEntries { len: *len });
        }
        let entry = Obj::at(nodes, data + 1).ok_or(field("data", FieldProblem::WrongType))?;
        let symbol = entry.str("symbol")?;
        let checksum = u32::try_from(entry.u64("checksum")?)
            .map_err(|_| field("checksum", FieldProblem::Decimal(DecimalError::Overflow)))?;
        let (bids, asks) = (entry.get("bids"), entry.get("asks"));
        let (instrument, decimals) = match self.symbols.find(symbol) {
            Some(spec) => (spec.instrument, (spec.price_decimals, spec.qty_decimals)),
            None if self.learn && kind == BookKind::Snapshot => {
                let (price_decimals, qty_decimals) = self.learned_precision(nodes, [bids, asks]);
                let spec = self
                    .symbols
                    .add(symbol, price_decimals, qty_decimals)
                    .ok_or(DecodeError::UnknownSymbol)?;
                (spec.instrument, (price_decimals, qty_decimals))
            }
            None if self.learn => {
                // Checked at the most decimals a pair can have, then dropped.
                let most = (MAX_LEARNED_DECIMALS, MAX_LEARNED_DECIMALS);
                levels(
                    &self.numbers,
                    nodes,
                    bids,
                    "bids",
                    most,
                    kind,
                    &mut self.bids,
                )?;
                levels(
                    &self.numbers,
                    nodes,
                    asks,
                    "asks",
                    most,
                    kind,
                    &mut self.asks,
                )?;
                self.bids.clear();
                self.asks.clear();
                return Ok(KrakenMessage::UpdateBeforeSnapshot);
            }
            None => return Err(DecodeError::UnknownSymbol.into()),
        };
        levels(
            &self.numbers,
            nodes,
            bids,
            "bids",
            decimals,
            kind,
            &mut self.bids,
        )?;
        levels(
            &self.numbers,
            nodes,
            asks,
            "asks",
            decimals,
            kind,
            &mut self.asks,
        )?;
        Ok(KrakenMessage::Book(BookMessage {
            kind,
            instrument,
            checksum,
        }))
    }

    /// The most decimals among the prices and among the quantities of the given sides, capped
    /// at [`MAX_LEARNED_DECIMALS`] (malformed levels are left for [`levels`] to reject).
    fn learned_precision(&self, nodes: &[Node<'_>], sides: [Option<usize>; 2]) -> (u32, u32) {
        let mut most = (0, 0);
        for at in sides.into_iter().flatten() {
            let Some(Node::Array { len, .. }) = nodes.get(at) else {
                continue;
            };
            let mut i = at + 1;
            for _ in 0..*len {
                if let Some(level) = Obj::at(nodes, i) {
                    let digits = |name| {
                        level
                            .get(name)
                            .and_then(|n| self.numbers.text(n))
                            .map_or(0, fraction_digits)
                    };
                    most.0 = most.0.max(digits("price"));
                    most.1 = most.1.max(digits("qty"));
                }
                i = skip(nodes, i);
            }
        }
        (
            most.0.min(MAX_LEARNED_DECIMALS),
            most.1.min(MAX_LEARNED_DECIMALS),
        )
    }
}

/// The decoder: reusable parse buffers, the number texts of the current frame, the level
/// buffers and the symbol table.
#[derive(Debug)]
pub struct KrakenDecoder {
    parser: TapeParser,
    state: DecoderState,
}

impl KrakenDecoder {
    /// A decoder for `symbols`, whose `price_decimals` and `qty_decimals` must be the pairs'
    /// `price_precision` and `qty_precision` (Kraken's `instrument` channel): the checksum is
    /// computed at them.
    pub fn new(symbols: Vec<SymbolSpec>) -> Self {
        Self {
            parser: TapeParser::default(),
            state: DecoderState {
                symbols: Symbols::new(symbols),
                learn: false,
                numbers: NumberTexts::default(),
                bids: Vec::with_capacity(MAX_LEVELS),
                asks: Vec::with_capacity(MAX_LEVELS),
                response_symbol: String::new(),
            },
        }
    }

    /// A decoder that accepts any pair, numbering instruments in order of first snapshot (for
    /// replaying recordings without a config). A pair's precision is learned from its first
    /// snapshot: the most decimals among its prices and among its quantities (Kraken writes no
    /// more decimals than the pair's precision, and a snapshot's levels almost always show it
    /// all). A later value with more decimals is rejected, never rounded, and a precision
    /// learned too low shows as a checksum mismatch. Updates of a pair before its first snapshot
    /// are [`KrakenMessage::UpdateBeforeSnapshot`].
    pub fn any_symbol() -> Self {
        let mut decoder = Self::new(Vec::new());
        decoder.state.learn = true;
        decoder
    }

    /// The pairs known so far, in instrument order for [`KrakenDecoder::any_symbol`].
    pub fn symbols(&self) -> &[SymbolSpec] {
        self.state.symbols.all()
    }

    /// Bid levels of the last book message, in message order.
    pub fn bids(&self) -> &[(Price, Qty)] {
        &self.state.bids
    }

    /// Ask levels of the last book message, in message order.
    pub fn asks(&self) -> &[(Price, Qty)] {
        &self.state.asks
    }

    /// `result.symbol` of the last response to a book request (empty for other messages).
    pub fn response_symbol(&self) -> &str {
        &self.state.response_symbol
    }

    /// Decodes one frame (parsed in place, so `input` is modified).
    ///
    /// # Errors
    ///
    /// [`KrakenError`] naming what is wrong and where.
    pub fn decode(&mut self, input: &mut [u8]) -> Result<KrakenMessage, KrakenError> {
        if input.len() > MAX_MESSAGE {
            return Err(DecodeError::Oversize { len: input.len() }.into());
        }
        self.state.response_symbol.clear();
        self.state.numbers.scan(input)?;
        let state = &mut self.state;
        self.parser.parse(input, |nodes| Ok(state.message(nodes)))?
    }
}

/// What applying a message found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookCheck {
    /// The book has the checksum the message carries.
    Match,
    /// It does not: the book was discarded; resubscribe and wait for a snapshot.
    Mismatch {
        /// The message's checksum.
        expected: u32,
        /// The book's.
        computed: u32,
    },
    /// An update while no snapshot is applied: ignored.
    Unsynced,
}

/// One pair's book at the subscribed depth, checked against every message's checksum.
#[derive(Debug, Clone)]
pub struct KrakenBook {
    /// Holds at most `depth` levels per side between messages (more only while one is applied).
    book: OrderBook,
    depth: usize,
    /// Whether a snapshot is applied and no mismatch has been found since.
    synced: bool,
    /// Prices past the depth, gathered while truncating (reused).
    excess: Vec<Price>,
}

impl KrakenBook {
    /// An empty book for a subscription of `depth` levels (at least 1), waiting for its
    /// snapshot. Its capacity, `depth + MAX_LEVELS` per side, holds any decoded message.
    pub fn new(instrument: InstrumentId, depth: usize) -> Self {
        let depth = depth.max(1);
        Self {
            book: OrderBook::with_capacity(instrument, depth + MAX_LEVELS),
            depth,
            synced: false,
            excess: Vec::new(),
        }
    }

    /// The book (empty until a snapshot, and after a mismatch).
    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    /// The subscribed depth.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Whether a snapshot is applied and every checksum since has matched.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Applies a decoded book message and its levels, truncates to the depth and checks the
    /// checksum. A snapshot replaces the book; an update while unsynced is ignored.
    pub fn apply(
        &mut self,
        message: &BookMessage,
        bids: &[(Price, Qty)],
        asks: &[(Price, Qty)],
    ) -> BookCheck {
        match message.kind {
            BookKind::Snapshot => {
                self.book.clear();
                self.synced = true;
            }
            BookKind::Update if !self.synced => return BookCheck::Unsynced,
            BookKind::Update => {}
        }
        for (side, levels) in [(Side::Buy, bids), (Side::Sell, asks)] {
            for &(price, qty) in levels {
                if self.book.set(side, price, qty).is_err() {
                    // More new levels than the capacity's margin: make room as the truncation
                    // after the message would.
                    self.truncate(side);
                    let retried = self.book.set(side, price, qty);
                    debug_assert!(retried.is_ok(), "a truncated side has room");
                }
            }
            self.truncate(side);
        }
        let computed = self.checksum();
        if computed == message.checksum {
            BookCheck::Match
        } else {
            self.book.clear();
            self.synced = false;
            BookCheck::Mismatch {
                expected: message.checksum,
                computed,
            }
        }
    }

    /// Removes the levels of `side` past the depth.
    fn truncate(&mut self, side: Side) {
        self.excess.clear();
        self.excess.extend(
            self.book
                .top(side, usize::MAX)
                .skip(self.depth)
                .map(|(p, _)| p),
        );
        for &price in &self.excess {
            let removed = self.book.set(side, price, Qty(0));
            debug_assert!(removed.is_ok(), "removing a level needs no room");
        }
    }

    /// Kraken's checksum of the book as it is: the CRC32 of the ten best asks then the ten best
    /// bids, each price and quantity as its digits without leading zeros.
    pub fn checksum(&self) -> u32 {
        let mut text = [0u8; CHECKSUM_BYTES];
        let mut len = 0;
        for side in [Side::Sell, Side::Buy] {
            for (price, qty) in self.book.top(side, CHECKSUM_LEVELS) {
                for value in [price.0, qty.0] {
                    len += write_digits(&mut text[len..], value.unsigned_abs());
                }
            }
        }
        crc32fast::hash(&text[..len])
    }
}

/// Writes the decimal digits of `value` (none for 0) at the start of `out` (at least 20 bytes)
/// and returns how many.
fn write_digits(out: &mut [u8], mut value: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while value > 0 {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    let n = digits.len() - start;
    out[..n].copy_from_slice(&digits[start..]);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matic() -> SymbolSpec {
        SymbolSpec {
            symbol: "MATIC/USD".into(),
            instrument: InstrumentId(4),
            price_decimals: 4,
            qty_decimals: 8,
        }
    }

    fn decode(d: &mut KrakenDecoder, text: &str) -> Result<KrakenMessage, KrakenError> {
        let mut bytes = text.as_bytes().to_vec();
        d.decode(&mut bytes)
    }

    /// The snapshot example of Kraken's `book` page, on one line.
    pub(super) const DOC_SNAPSHOT: &str = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5666,"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739},{"price":0.5664,"qty":18724.91513344},{"price":0.5663,"qty":11563.92544914},{"price":0.5662,"qty":14006.65365711},{"price":0.5661,"qty":17454.85679807},{"price":0.566,"qty":18097.1547},{"price":0.5659,"qty":33644.89175666},{"price":0.5658,"qty":148.3464},{"price":0.5657,"qty":606.70854372}],"asks":[{"price":0.5668,"qty":4410.79769741},{"price":0.5669,"qty":4655.40412487},{"price":0.567,"qty":49844.89424998},{"price":0.5671,"qty":24306.41678},{"price":0.5672,"qty":29783.25223475},{"price":0.5673,"qty":57234.71239278},{"price":0.5674,"qty":45065.04744},{"price":0.5675,"qty":5912.76380354},{"price":0.5676,"qty":42514.92434778},{"price":0.5677,"qty":36304.0847022}],"checksum":2439117997,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;
    /// The update example of the same page.
    pub(super) const DOC_UPDATE: &str = r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;

    #[test]
    fn documented_snapshot_and_update_match_their_checksums() {
        let mut d = KrakenDecoder::new(vec![matic()]);
        let mut book = KrakenBook::new(InstrumentId(4), DEFAULT_DEPTH);
        let Ok(KrakenMessage::Book(snapshot)) = decode(&mut d, DOC_SNAPSHOT) else {
            panic!("snapshot decodes");
        };
        assert_eq!(
            snapshot,
            BookMessage {
                kind: BookKind::Snapshot,
                instrument: InstrumentId(4),
                checksum: 2_439_117_997,
            }
        );
        assert_eq!((d.bids().len(), d.asks().len()), (10, 10));
        assert_eq!(d.bids()[0], (Price(5666), Qty(483_175_496_356)));
        assert_eq!(d.bids()[6], (Price(5660), Qty(1_809_715_470_000)));
        assert_eq!(d.asks()[3], (Price(5671), Qty(2_430_641_678_000)));
        assert_eq!(book.apply(&snapshot, d.bids(), d.asks()), BookCheck::Match);
        let Ok(KrakenMessage::Book(update)) = decode(&mut d, DOC_UPDATE) else {
            panic!("update decodes");
        };
        assert_eq!(d.bids(), &[(Price(5657), Qty(109_839_475_580))]);
        assert_eq!(book.apply(&update, d.bids(), d.asks()), BookCheck::Match);
        assert_eq!(book.book().len(), (10, 10));
    }

    #[test]
    fn a_learning_decoder_takes_the_precision_from_the_first_snapshot() {
        let mut d = KrakenDecoder::any_symbol();
        assert_eq!(
            decode(&mut d, DOC_UPDATE),
            Ok(KrakenMessage::UpdateBeforeSnapshot)
        );
        assert!(d.symbols().is_empty());
        assert!(matches!(
            decode(&mut d, DOC_SNAPSHOT),
            Ok(KrakenMessage::Book(BookMessage {
                instrument: InstrumentId(0),
                ..
            }))
        ));
        assert_eq!(
            (d.symbols()[0].price_decimals, d.symbols()[0].qty_decimals),
            (4, 8)
        );
    }

    #[test]
    fn other_documented_messages_are_valid_kinds() {
        let mut d = KrakenDecoder::new(vec![matic()]);
        let ack = r#"{"method":"subscribe","result":{"channel":"book","depth":25,"snapshot":true,"symbol":"MATIC/USD"},"success":true,"time_in":"2023-10-06T17:35:55.219022Z","time_out":"2023-10-06T17:35:55.219067Z"}"#;
        assert_eq!(
            decode(&mut d, ack),
            Ok(KrakenMessage::Response(Response {
                method: Method::Subscribe,
                success: true,
                book_depth: Some(25),
            }))
        );
        assert_eq!(d.response_symbol(), "MATIC/USD");
        let refused = r#"{"error":"Currency pair not supported","method":"subscribe","success":false,"symbol":"BTC/XYZ","time_in":"2023-10-06T17:35:55.219022Z","time_out":"2023-10-06T17:35:55.219067Z"}"#;
        let m = decode(&mut d, refused).expect("valid");
        assert_eq!(m.kind(), "subscribe");
        assert!(matches!(
            m,
            KrakenMessage::Response(Response { success: false, .. })
        ));
        assert_eq!(d.response_symbol(), "");
        let pong = r#"{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}"#;
        assert_eq!(decode(&mut d, pong).map(|m| m.kind()), Ok("pong"));
        assert_eq!(
            decode(&mut d, r#"{"channel":"heartbeat"}"#),
            Ok(KrakenMessage::Heartbeat)
        );
        let status = r#"{"channel":"status","data":[{"api_version":"v2","connection_id":12393906104898154338,"system":"online","version":"2.0.4"}],"type":"update"}"#;
        assert_eq!(decode(&mut d, status), Ok(KrakenMessage::Status));
    }

    #[test]
    fn numbers_pair_with_their_own_text_around_escapes_and_key_order() {
        let mut d = KrakenDecoder::new(vec![matic()]);
        // Escaped strings (unescaped in place by the parser) before and between the numbers,
        // numbers in strings, and `qty` before `price`.
        let text = r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC\/USD","note":"1.5 \"2\" 3","bids":[{"qty":7.5,"price":0.5}],"asks":[{"price":0.6,"qty":1e0}],"checksum":1,"timestamp":"x"}]}"#;
        assert_eq!(
            decode(&mut d, text),
            Err(KrakenError::Level {
                side: "asks",
                index: 0,
                field: "qty",
                problem: FieldProblem::Decimal(DecimalError::BadChar(1)),
            })
        );
        let text = text.replace("1e0", "1");
        assert!(decode(&mut d, &text).is_ok());
        assert_eq!(d.bids(), &[(Price(5000), Qty(750_000_000))]);
        assert_eq!(d.asks(), &[(Price(6000), Qty(100_000_000))]);
    }

    /// The checksum of a book holding exactly these levels (built without `apply`).
    fn checksum_of(bids: &[(i64, i64)], asks: &[(i64, i64)]) -> u32 {
        let mut b = KrakenBook::new(InstrumentId(0), DEFAULT_DEPTH);
        for (side, levels) in [(Side::Buy, bids), (Side::Sell, asks)] {
            for &(p, q) in levels {
                b.book.set(side, Price(p), Qty(q)).expect("room");
            }
        }
        b.checksum()
    }

    fn levels_of(book: &KrakenBook, side: Side) -> Vec<(i64, i64)> {
        book.book()
            .top(side, usize::MAX)
            .map(|(p, q)| (p.0, q.0))
            .collect()
    }

    #[test]
    fn truncation_to_the_depth_happens_after_the_whole_message() {
        let message = |kind, bids: &[(i64, i64)]| BookMessage {
            kind,
            instrument: InstrumentId(0),
            checksum: checksum_of(bids, &[(20, 1)]),
        };
        let lv = |levels: &[(i64, i64)]| -> Vec<(Price, Qty)> {
            levels.iter().map(|&(p, q)| (Price(p), Qty(q))).collect()
        };
        let mut book = KrakenBook::new(InstrumentId(0), 2);
        let asks = lv(&[(20, 1)]);
        let snapshot = [(10, 1), (9, 1)];
        assert_eq!(
            book.apply(
                &message(BookKind::Snapshot, &snapshot),
                &lv(&snapshot),
                &asks
            ),
            BookCheck::Match
        );
        // A level inserted above the best and removed again in the same message: the second
        // level stays, as it would not if the side were truncated after each level.
        let update = lv(&[(11, 1), (11, 0)]);
        assert_eq!(
            book.apply(&message(BookKind::Update, &snapshot), &update, &[]),
            BookCheck::Match
        );
        assert_eq!(levels_of(&book, Side::Buy), vec![(10, 1), (9, 1)]);
        // An insert above the best pushes the worst level out of the depth.
        let after = [(11, 2), (10, 1)];
        assert_eq!(
            book.apply(&message(BookKind::Update, &after), &lv(&[(11, 2)]), &[]),
            BookCheck::Match
        );
        assert_eq!(levels_of(&book, Side::Buy), after.to_vec());
        // A wrong checksum discards the book; updates are ignored until the next snapshot.
        let wrong = BookMessage {
            checksum: 7,
            ..message(BookKind::Update, &after)
        };
        assert_eq!(
            book.apply(&wrong, &[], &[]),
            BookCheck::Mismatch {
                expected: 7,
                computed: checksum_of(&after, &[(20, 1)]),
            }
        );
        assert!(!book.is_synced() && book.book().is_empty());
        assert_eq!(
            book.apply(&message(BookKind::Update, &after), &[], &[]),
            BookCheck::Unsynced
        );
    }

    #[test]
    fn the_checksum_string_is_the_stored_integers_digits() {
        let mut out = [0u8; 20];
        let n = write_digits(&mut out, 100_000);
        assert_eq!(&out[..n], b"100000");
        assert_eq!(write_digits(&mut out, 0), 0);
        let n = write_digits(&mut out, u64::MAX);
        assert_eq!(&out[..n], b"18446744073709551615");
        // 45285.2 / 0.00100000 and 45283.5 / 0.10000000 at precisions 1 and 8, by hand.
        assert_eq!(
            checksum_of(&[(452_835, 10_000_000)], &[(452_852, 100_000)]),
            crc32fast::hash(b"45285210000045283510000000")
        );
    }

    #[test]
    fn hostile_inputs_are_rejected_with_a_named_error() {
        let mut d = KrakenDecoder::new(vec![matic()]);
        let book = |bids: &str, asks: &str| {
            format!(
                r#"{{"channel":"book","type":"update","data":[{{"symbol":"MATIC/USD","bids":[{bids}],"asks":[{asks}],"checksum":1,"timestamp":"2023-10-06T17:35:55.440295Z"}}]}}"#
            )
        };
        let level = |side, index, field, problem| KrakenError::Level {
            side,
            index,
            field,
            problem,
        };
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let huge_string = format!(
            r#"{{"channel":"book","type":"update","data":[{{"symbol":"{}","bids":[],"asks":[],"checksum":1}}]}}"#,
            "X".repeat(1 << 20)
        );
        let many_levels = book(
            &vec![r#"{"price":1,"qty":1}"#; MAX_LEVELS + 1].join(","),
            "",
        );
        let many_numbers = format!("[{}]", vec!["1"; MAX_NUMBERS + 1].join(","));
        let cases: Vec<(String, KrakenError)> = vec![
            (DOC_SNAPSHOT[..200].into(), DecodeError::Json { at: 0 }.into()),
            ("[1,2]".into(), DecodeError::NotObject.into()),
            (deep, DecodeError::NotObject.into()),
            (r#"{"hello":1}"#.into(), DecodeError::UnknownKind.into()),
            (r#"{"channel":"ticker","data":[]}"#.into(), DecodeError::UnknownKind.into()),
            (r#"{"channel":5}"#.into(), field("channel", FieldProblem::WrongType).into()),
            (r#"{"method":"frobnicate","success":true}"#.into(), KrakenError::UnknownValue { field: "method" }),
            (r#"{"method":"subscribe"}"#.into(), field("success", FieldProblem::Missing).into()),
            (r#"{"method":"subscribe","success":true,"result":{"channel":"book","symbol":"MATIC/USD","depth":7}}"#.into(), KrakenError::UnknownValue { field: "depth" }),
            (r#"{"channel":"status","data":{}}"#.into(), field("data", FieldProblem::WrongType).into()),
            (r#"{"channel":"book","type":"delta","data":[]}"#.into(), KrakenError::UnknownValue { field: "type" }),
            (r#"{"channel":"book","type":"update","data":[]}"#.into(), KrakenError::DataEntries { len: 0 }),
            (r#"{"channel":"book","type":"update","data":{}}"#.into(), field("data", FieldProblem::WrongType).into()),
            (r#"{"channel":"book","type":"update","data":[5]}"#.into(), field("data", FieldProblem::WrongType).into()),
            (r#"{"channel":"book","type":"update","data":[{"symbol":"ETH/USD","bids":[],"asks":[],"checksum":1}]}"#.into(), DecodeError::UnknownSymbol.into()),
            (r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[],"asks":[],"checksum":4294967296}]}"#.into(), field("checksum", FieldProblem::Decimal(DecimalError::Overflow)).into()),
            (r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[],"asks":[],"checksum":-1}]}"#.into(), field("checksum", FieldProblem::Negative).into()),
            (r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[],"asks":[]}]}"#.into(), field("checksum", FieldProblem::Missing).into()),
            (r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","asks":[],"checksum":1}]}"#.into(), field("bids", FieldProblem::Missing).into()),
            (book(r#"{"price":"0.5","qty":1}"#, ""), level("bids", 0, "price", FieldProblem::WrongType)),
            (book(r#"{"price":0.5,"qty":null}"#, ""), level("bids", 0, "qty", FieldProblem::WrongType)),
            (book(r#"{"price":0.5}"#, ""), level("bids", 0, "qty", FieldProblem::Missing)),
            (book(r#"[0.5,1]"#, ""), DecodeError::Level { side: "bids", index: 0, problem: FieldProblem::WrongType }.into()),
            (book("", r#"{"price":0.5,"qty":1},{"price":0.56661,"qty":1}"#), level("asks", 1, "price", FieldProblem::Decimal(DecimalError::TooPrecise(4)))),
            (book(r#"{"price":99999999999999999999.5,"qty":1}"#, ""), level("bids", 0, "price", FieldProblem::Decimal(DecimalError::Overflow))),
            (book(r#"{"price":0.5,"qty":1234567890123.5}"#, ""), level("bids", 0, "qty", FieldProblem::Decimal(DecimalError::Overflow))),
            // An integer past 64 bits is refused by the parser itself.
            (book(r#"{"price":99999999999999999999,"qty":1}"#, ""), DecodeError::Json { at: 0 }.into()),
            (book(r#"{"price":1e400,"qty":1}"#, ""), DecodeError::Json { at: 0 }.into()),
            (book(r#"{"price":0,"qty":1}"#, ""), level("bids", 0, "price", FieldProblem::NotPositive)),
            (book(r#"{"price":-0.5,"qty":1}"#, ""), level("bids", 0, "price", FieldProblem::NotPositive)),
            (book(r#"{"price":0.5,"qty":-1}"#, ""), level("bids", 0, "qty", FieldProblem::Negative)),
            (book(r#"{"price":NaN,"qty":1}"#, ""), DecodeError::Json { at: 0 }.into()),
            (book(r#"{"price":Infinity,"qty":1}"#, ""), DecodeError::Json { at: 0 }.into()),
            (book(r#"{"price":"NaN","qty":1}"#, ""), level("bids", 0, "price", FieldProblem::WrongType)),
            (DOC_SNAPSHOT.replace("\"qty\":4831.75496356", "\"qty\":0"), level("bids", 0, "qty", FieldProblem::NotPositive)),
            (huge_string, DecodeError::UnknownSymbol.into()),
            (many_levels, DecodeError::TooManyLevels { side: "bids", max: MAX_LEVELS }.into()),
            (many_numbers, KrakenError::TooManyNumbers { max: MAX_NUMBERS }),
        ];
        for (text, expected) in cases {
            let got = decode(&mut d, &text);
            match (got, expected) {
                (
                    Err(KrakenError::Decode(DecodeError::Json { .. })),
                    KrakenError::Decode(DecodeError::Json { .. } | DecodeError::NotObject),
                ) => {}
                (got, expected) => {
                    assert_eq!(got, Err(expected), "{}", &text[..text.len().min(120)])
                }
            }
            let shown = decode(&mut d, &text).map_or_else(|e| e.to_string(), |m| m.kind().into());
            assert!(!shown.is_empty());
        }
        let mut invalid_utf8 = b"{\"channel\":\"book\",\"type\":\"\xff\xfe\"}".to_vec();
        assert!(matches!(
            d.decode(&mut invalid_utf8),
            Err(KrakenError::Decode(DecodeError::Json { .. }))
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
            level(
                "asks",
                1,
                "price",
                FieldProblem::Decimal(DecimalError::TooPrecise(4))
            )
            .to_string(),
            "asks level 1, field \"price\": more than 4 decimals"
        );
        // The decoder still works after every rejection.
        assert!(decode(&mut d, DOC_UPDATE).is_ok());
    }
}
