//! Binance spot market-data decoders: `<symbol>@bookTicker`, `<symbol>@depth[@100ms]`,
//! `<symbol>@trade`, the combined-stream wrapper `{"stream":..,"data":..}`, and the REST depth
//! snapshot — field names and types as the venue documents them.
//!
//! # How
//!
//! `bookTicker`, `depthUpdate` and `trade` frames in the exact layout Binance sends them (keys
//! in the documented order, no whitespace, no escapes) take a byte-level fast path
//! (`canonical`) that reads the frame once, front to back, eight bytes at a time where it can:
//! each field is found at its known place, each decimal converted where it stands, and each
//! depth level written to the decoder's buffer in the same pass. Every other frame — and any
//! frame the fast path does not recognise byte for byte, including every invalid one — goes
//! the general way: simd-json parses it into a tape held by the decoder and reused for every
//! message (with its scratch buffers), so steady-state decoding allocates nothing, and a
//! schema-specific walk over the tape picks the fields. Both convert decimal strings to fixed
//! point exactly as [`parse_decimal`] does at each instrument's scale, and a property test
//! checks they agree. Depth levels land in two buffers owned by the decoder
//! ([`BinanceDecoder::bids`], [`BinanceDecoder::asks`]), capacity [`MAX_LEVELS`].
//!
//! # Errors
//!
//! Every rejection is a [`DecodeError`] naming what was wrong and where (the field, the level
//! index, the byte offset of a JSON error); nothing panics on input, nothing wraps.

use crate::canonical;
use crate::event::{Quote, Trade};
use crate::fixed::{parse_decimal, InstrumentId, Price, Qty, Side};
use crate::json::{field, skip, Node, Obj, TapeParser};
pub use crate::json::{DecodeError, FieldProblem, MAX_MESSAGE};

/// Levels per side accepted in one depth message or snapshot (the venue's snapshot maximum).
pub const MAX_LEVELS: usize = 5000;

/// The base asset of a spot symbol: the symbol without its `USDT`, `USDC` or `BTC` quote
/// suffix (`BTCUSDT` → `BTC`); the symbol itself when none matches.
pub fn base_asset(symbol: &str) -> &str {
    ["USDT", "USDC", "BTC"]
        .iter()
        .find_map(|q| symbol.strip_suffix(q).filter(|b| !b.is_empty()))
        .unwrap_or(symbol)
}

/// An instrument the decoder knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSpec {
    /// Venue symbol, upper case (`BTCUSDT`).
    pub symbol: String,
    /// Index in the engine.
    pub instrument: InstrumentId,
    /// Decimals of prices.
    pub price_decimals: u32,
    /// Decimals of quantities.
    pub qty_decimals: u32,
}

/// The parts of a [`SymbolSpec`] decoding needs, `Copy` so looking them up allocates nothing.
#[derive(Debug, Clone, Copy)]
struct Scale {
    instrument: InstrumentId,
    price_decimals: u32,
    qty_decimals: u32,
}

impl From<&SymbolSpec> for Scale {
    fn from(s: &SymbolSpec) -> Self {
        Self {
            instrument: s.instrument,
            price_decimals: s.price_decimals,
            qty_decimals: s.qty_decimals,
        }
    }
}

/// A depth diff's header; its levels are in [`BinanceDecoder::bids`] / [`BinanceDecoder::asks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthUpdate {
    /// Instrument.
    pub instrument: InstrumentId,
    /// `U`: first update id in the event.
    pub first_update_id: u64,
    /// `u`: final update id in the event.
    pub last_update_id: u64,
    /// `E`: event time, ms.
    pub event_time_ms: u64,
}

/// A decoded market-data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinanceMessage {
    /// `bookTicker`.
    BookTicker(Quote),
    /// `depthUpdate`.
    DepthUpdate(DepthUpdate),
    /// `trade`.
    Trade(Trade),
}

impl BinanceMessage {
    /// The message kind as the venue names it.
    pub fn kind(&self) -> &'static str {
        match self {
            BinanceMessage::BookTicker(_) => "bookTicker",
            BinanceMessage::DepthUpdate(_) => "depthUpdate",
            BinanceMessage::Trade(_) => "trade",
        }
    }
}

/// A decoded REST depth snapshot; levels in the decoder's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthSnapshot {
    /// `lastUpdateId`.
    pub last_update_id: u64,
}

/// The decoder: reusable parse buffers plus the symbol table.
pub struct BinanceDecoder {
    symbols: Vec<SymbolSpec>,
    /// When set, an unknown symbol is added with these (price, qty) decimals instead of being
    /// rejected (for tools that read recordings of any symbol).
    auto_symbols: Option<(u32, u32)>,
    /// The reused parser (taken out while a message is walked).
    parser: Option<TapeParser>,
    bids: Vec<(Price, Qty)>,
    asks: Vec<(Price, Qty)>,
}

impl std::fmt::Debug for BinanceDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceDecoder")
            .field("symbols", &self.symbols)
            .finish_non_exhaustive()
    }
}

/// Reads a levels array (`[["price","qty"],..]`) into `out`; zero quantities are kept (a diff
/// deletes with them), negative ones and non-positive prices rejected.
fn levels(
    nodes: &[Node<'_>],
    at: Option<usize>,
    side: &'static str,
    spec: Scale,
    out: &mut Vec<(Price, Qty)>,
) -> Result<(), DecodeError> {
    out.clear();
    let at = at.ok_or(field(side, FieldProblem::Missing))?;
    let Some(Node::Array { len, .. }) = nodes.get(at) else {
        return Err(field(side, FieldProblem::WrongType));
    };
    if *len > MAX_LEVELS {
        return Err(DecodeError::TooManyLevels {
            side,
            max: MAX_LEVELS,
        });
    }
    let level_err = |index, problem| DecodeError::Level {
        side,
        index,
        problem,
    };
    let mut i = at + 1;
    for index in 0..*len {
        let (price, qty) = match (nodes.get(i), nodes.get(i + 1), nodes.get(i + 2)) {
            (Some(Node::Array { len: 2, .. }), Some(Node::String(p)), Some(Node::String(q))) => {
                (*p, *q)
            }
            _ => return Err(level_err(index, FieldProblem::WrongType)),
        };
        let price = parse_decimal(price.as_bytes(), spec.price_decimals)
            .map_err(|e| level_err(index, FieldProblem::Decimal(e)))?;
        let qty = parse_decimal(qty.as_bytes(), spec.qty_decimals)
            .map_err(|e| level_err(index, FieldProblem::Decimal(e)))?;
        if price <= 0 {
            return Err(level_err(index, FieldProblem::NotPositive));
        }
        if qty < 0 {
            return Err(level_err(index, FieldProblem::Negative));
        }
        out.push((Price(price), Qty(qty)));
        i = skip(nodes, i);
    }
    Ok(())
}

impl BinanceDecoder {
    /// A decoder for `symbols`.
    pub fn new(symbols: Vec<SymbolSpec>) -> Self {
        Self {
            symbols,
            auto_symbols: None,
            parser: Some(TapeParser::default()),
            bids: Vec::with_capacity(MAX_LEVELS),
            asks: Vec::with_capacity(MAX_LEVELS),
        }
    }

    /// A decoder that accepts any symbol, numbering instruments in order of first appearance,
    /// with the given decimals (for replaying recordings without a config).
    pub fn any_symbol(price_decimals: u32, qty_decimals: u32) -> Self {
        Self {
            auto_symbols: Some((price_decimals, qty_decimals)),
            ..Self::new(Vec::new())
        }
    }

    /// The symbols known so far, in instrument order for [`BinanceDecoder::any_symbol`].
    pub fn symbols(&self) -> &[SymbolSpec] {
        &self.symbols
    }

    /// Bid levels of the last depth message or snapshot.
    pub fn bids(&self) -> &[(Price, Qty)] {
        &self.bids
    }

    /// Ask levels of the last depth message or snapshot.
    pub fn asks(&self) -> &[(Price, Qty)] {
        &self.asks
    }

    fn spec(&mut self, symbol: &str) -> Result<Scale, DecodeError> {
        if let Some(spec) = self.symbols.iter().find(|s| s.symbol == symbol) {
            return Ok(Scale::from(spec));
        }
        match self.auto_symbols {
            Some((price_decimals, qty_decimals)) if self.symbols.len() < usize::from(u16::MAX) => {
                let spec = SymbolSpec {
                    symbol: symbol.to_string(),
                    instrument: InstrumentId(self.symbols.len() as u16),
                    price_decimals,
                    qty_decimals,
                };
                let scale = Scale::from(&spec);
                self.symbols.push(spec);
                Ok(scale)
            }
            _ => Err(DecodeError::UnknownSymbol),
        }
    }

    /// Parses `input` (modified in place) and runs `walk` over the tape.
    fn with_tape<R>(
        &mut self,
        input: &mut [u8],
        walk: impl FnOnce(&mut Self, &[Node<'_>]) -> Result<R, DecodeError>,
    ) -> Result<R, DecodeError> {
        let mut parser = self.parser.take().unwrap_or_default();
        let result = parser.parse(input, |nodes| walk(self, nodes));
        self.parser = Some(parser);
        result
    }

    /// Decodes one market-data frame (raw or combined-stream wrapped). `recv_tsc` stamps the
    /// events.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] naming the problem.
    pub fn decode(
        &mut self,
        input: &mut [u8],
        recv_tsc: u64,
    ) -> Result<BinanceMessage, DecodeError> {
        match self.decode_canonical(input, recv_tsc) {
            Some(message) => Ok(message),
            None => self.decode_tape(input, recv_tsc),
        }
    }

    /// The general path: any valid frame, and the error for any invalid one.
    fn decode_tape(
        &mut self,
        input: &mut [u8],
        recv_tsc: u64,
    ) -> Result<BinanceMessage, DecodeError> {
        self.with_tape(input, |this, nodes| {
            let outer = Obj::at(nodes, 0).ok_or(DecodeError::NotObject)?;
            let obj = match (outer.get("stream"), outer.get("data")) {
                (Some(_), Some(data)) => {
                    outer.str("stream")?;
                    Obj::at(nodes, data).ok_or(field("data", FieldProblem::WrongType))?
                }
                _ => outer,
            };
            match obj.get("e").map(|i| nodes[i]) {
                Some(Node::String("depthUpdate")) => this.depth_update(nodes, &obj),
                Some(Node::String("trade")) => this.trade(&obj, recv_tsc),
                Some(Node::String(_)) => Err(DecodeError::UnknownKind),
                Some(_) => Err(field("e", FieldProblem::WrongType)),
                None if obj.get("u").is_some() && obj.get("b").is_some() => {
                    this.book_ticker(&obj, recv_tsc)
                }
                None => Err(DecodeError::UnknownKind),
            }
        })
    }

    /// The fast path: a canonical `bookTicker`, `depthUpdate` or `trade` whose values all
    /// convert and pass the general path's checks; `None` sends the frame down the general path
    /// (which also names any error).
    fn decode_canonical(&mut self, input: &[u8], recv_tsc: u64) -> Option<BinanceMessage> {
        let positive = |value: i64| (value > 0).then_some(value);
        match canonical::frame(input)? {
            canonical::Frame::BookTicker(head) => {
                let (spec, new) = self.fast_scale(head.symbol)?;
                let v = head.values(spec.price_decimals, spec.qty_decimals)?;
                let quote = Quote {
                    instrument: spec.instrument,
                    bid: Price(positive(v.bid)?),
                    bid_qty: Qty(positive(v.bid_qty)?),
                    ask: Price(positive(v.ask)?),
                    ask_qty: Qty(positive(v.ask_qty)?),
                    exchange_seq: head.update_id,
                    recv_tsc,
                };
                self.accept_symbol(head.symbol, new)?;
                Some(BinanceMessage::BookTicker(quote))
            }
            canonical::Frame::DepthUpdate(head) => self.canonical_depth(head),
            canonical::Frame::Trade(head) => {
                let (spec, new) = self.fast_scale(head.symbol)?;
                let v = head.values(spec.price_decimals, spec.qty_decimals)?;
                let trade = Trade {
                    instrument: spec.instrument,
                    price: Price(positive(v.price)?),
                    qty: Qty(positive(v.qty)?),
                    aggressor: if v.buyer_is_maker {
                        Side::Sell
                    } else {
                        Side::Buy
                    },
                    trade_id: v.trade_id,
                    recv_tsc,
                };
                self.accept_symbol(head.symbol, new)?;
                Some(BinanceMessage::Trade(trade))
            }
        }
    }

    /// The scale of `symbol` for the fast path, which adds a symbol only once its frame is
    /// accepted (so a frame the general path then rejects adds none): `(scale, true)` for a
    /// symbol [`BinanceDecoder::any_symbol`] would add, with the instrument it would get.
    fn fast_scale(&self, symbol: &[u8]) -> Option<(Scale, bool)> {
        if let Some(spec) = self.symbols.iter().find(|s| s.symbol.as_bytes() == symbol) {
            return Some((Scale::from(spec), false));
        }
        let (price_decimals, qty_decimals) = self.auto_symbols?;
        let instrument = u16::try_from(self.symbols.len())
            .ok()
            .filter(|n| *n < u16::MAX)?;
        Some((
            Scale {
                instrument: InstrumentId(instrument),
                price_decimals,
                qty_decimals,
            },
            true,
        ))
    }

    /// Adds `symbol` when [`BinanceDecoder::fast_scale`] found it `new`, once its frame is
    /// accepted.
    fn accept_symbol(&mut self, symbol: &[u8], new: bool) -> Option<()> {
        if new {
            self.spec(std::str::from_utf8(symbol).ok()?).ok()?;
        }
        Some(())
    }

    /// A canonical depth diff's levels into the decoder's buffers in the pass that reads them,
    /// checked as the general path checks them; `None` declines (and leaves both buffers
    /// empty for the general path to fill).
    fn canonical_depth(&mut self, head: canonical::DepthHead<'_>) -> Option<BinanceMessage> {
        if head.first_update_id > head.last_update_id {
            return None;
        }
        let (spec, new) = self.fast_scale(head.symbol)?;
        let message = BinanceMessage::DepthUpdate(DepthUpdate {
            instrument: spec.instrument,
            first_update_id: head.first_update_id,
            last_update_id: head.last_update_id,
            event_time_ms: head.event_time_ms,
        });
        let symbol = head.symbol;
        let (bids, asks) = (&mut self.bids, &mut self.asks);
        bids.clear();
        asks.clear();
        // Zero quantities are kept (a diff deletes with them); the buffers have `MAX_LEVELS`
        // of capacity, so `push` never allocates.
        let read = head.levels(
            spec.price_decimals,
            spec.qty_decimals,
            |side, price, qty| {
                let out = match side {
                    Side::Buy => &mut *bids,
                    Side::Sell => &mut *asks,
                };
                if price <= 0 || qty < 0 || out.len() >= MAX_LEVELS {
                    return None;
                }
                out.push((Price(price), Qty(qty)));
                Some(())
            },
        );
        if read.is_none() {
            self.bids.clear();
            self.asks.clear();
            return None;
        }
        self.accept_symbol(symbol, new)?;
        Some(message)
    }

    fn book_ticker(
        &mut self,
        o: &Obj<'_, '_>,
        recv_tsc: u64,
    ) -> Result<BinanceMessage, DecodeError> {
        let spec = self.spec(o.str("s")?)?;
        let (pd, qd) = (spec.price_decimals, spec.qty_decimals);
        Ok(BinanceMessage::BookTicker(Quote {
            instrument: spec.instrument,
            bid: Price(o.positive("b", pd)?),
            bid_qty: Qty(o.positive("B", qd)?),
            ask: Price(o.positive("a", pd)?),
            ask_qty: Qty(o.positive("A", qd)?),
            exchange_seq: o.u64("u")?,
            recv_tsc,
        }))
    }

    fn depth_update(
        &mut self,
        nodes: &[Node<'_>],
        o: &Obj<'_, '_>,
    ) -> Result<BinanceMessage, DecodeError> {
        let spec = self.spec(o.str("s")?)?;
        let first = o.u64("U")?;
        let last = o.u64("u")?;
        if first > last {
            return Err(DecodeError::UpdateIdsReversed);
        }
        let event_time_ms = o.u64("E")?;
        levels(nodes, o.get("b"), "b", spec, &mut self.bids)?;
        levels(nodes, o.get("a"), "a", spec, &mut self.asks)?;
        Ok(BinanceMessage::DepthUpdate(DepthUpdate {
            instrument: spec.instrument,
            first_update_id: first,
            last_update_id: last,
            event_time_ms,
        }))
    }

    fn trade(&mut self, o: &Obj<'_, '_>, recv_tsc: u64) -> Result<BinanceMessage, DecodeError> {
        let spec = self.spec(o.str("s")?)?;
        let buyer_is_maker = o.bool("m")?;
        Ok(BinanceMessage::Trade(Trade {
            instrument: spec.instrument,
            price: Price(o.positive("p", spec.price_decimals)?),
            qty: Qty(o.positive("q", spec.qty_decimals)?),
            aggressor: if buyer_is_maker {
                Side::Sell
            } else {
                Side::Buy
            },
            trade_id: o.u64("t")?,
            recv_tsc,
        }))
    }

    /// Decodes a REST depth snapshot (`{"lastUpdateId":..,"bids":..,"asks":..}`) for
    /// `instrument`; levels must have positive quantities.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] naming the problem.
    pub fn decode_snapshot(
        &mut self,
        input: &mut [u8],
        instrument: InstrumentId,
    ) -> Result<DepthSnapshot, DecodeError> {
        let spec = self
            .symbols
            .iter()
            .find(|s| s.instrument == instrument)
            .map(Scale::from)
            .ok_or(DecodeError::UnknownSymbol)?;
        self.with_tape(input, |this, nodes| {
            let o = Obj::at(nodes, 0).ok_or(DecodeError::NotObject)?;
            let last_update_id = o.u64("lastUpdateId")?;
            levels(nodes, o.get("bids"), "bids", spec, &mut this.bids)?;
            levels(nodes, o.get("asks"), "asks", spec, &mut this.asks)?;
            for (side, list) in [("bids", &this.bids), ("asks", &this.asks)] {
                if let Some(index) = list.iter().position(|(_, q)| q.0 == 0) {
                    return Err(DecodeError::Level {
                        side,
                        index,
                        problem: FieldProblem::NotPositive,
                    });
                }
            }
            Ok(DepthSnapshot { last_update_id })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::DecimalError;
    use proptest::prelude::*;

    fn decoder() -> BinanceDecoder {
        BinanceDecoder::new(vec![SymbolSpec {
            symbol: "BNBUSDT".into(),
            instrument: InstrumentId(3),
            price_decimals: 8,
            qty_decimals: 8,
        }])
    }

    fn decode(d: &mut BinanceDecoder, text: &str) -> Result<BinanceMessage, DecodeError> {
        let mut bytes = text.as_bytes().to_vec();
        d.decode(&mut bytes, 77)
    }

    #[test]
    fn base_assets() {
        assert_eq!(base_asset("BTCUSDT"), "BTC");
        assert_eq!(base_asset("ETHBTC"), "ETH");
        assert_eq!(base_asset("USDT"), "USDT");
    }

    #[test]
    fn documented_book_ticker() {
        let mut d = decoder();
        let m = decode(
            &mut d,
            r#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#,
        );
        assert_eq!(
            m,
            Ok(BinanceMessage::BookTicker(Quote {
                instrument: InstrumentId(3),
                bid: Price(2_535_190_000),
                bid_qty: Qty(3_121_000_000),
                ask: Price(2_536_520_000),
                ask_qty: Qty(4_066_000_000),
                exchange_seq: 400_900_217,
                recv_tsc: 77,
            }))
        );
    }

    #[test]
    fn documented_depth_update_inside_the_combined_wrapper() {
        let mut d = decoder();
        let m = decode(&mut d, r#"{"stream":"bnbusdt@depth@100ms","data":{"e":"depthUpdate","E":1672515782136,"s":"BNBUSDT","U":157,"u":160,"b":[["0.0024","10"],["0.0023","0"]],"a":[["0.0026","100"]]}}"#).expect("valid");
        assert_eq!(
            m,
            BinanceMessage::DepthUpdate(DepthUpdate {
                instrument: InstrumentId(3),
                first_update_id: 157,
                last_update_id: 160,
                event_time_ms: 1_672_515_782_136,
            })
        );
        assert_eq!(
            d.bids(),
            &[
                (Price(240_000), Qty(1_000_000_000)),
                (Price(230_000), Qty(0))
            ]
        );
        assert_eq!(d.asks(), &[(Price(260_000), Qty(10_000_000_000))]);
    }

    #[test]
    fn documented_trade() {
        let mut d = decoder();
        let m = decode(
            &mut d,
            r#"{"e":"trade","E":1672515782136,"s":"BNBUSDT","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}"#,
        );
        assert_eq!(
            m,
            Ok(BinanceMessage::Trade(Trade {
                instrument: InstrumentId(3),
                price: Price(100_000),
                qty: Qty(10_000_000_000),
                aggressor: Side::Sell,
                trade_id: 12345,
                recv_tsc: 77,
            }))
        );
    }

    #[test]
    fn documented_snapshot() {
        let mut d = decoder();
        let mut text = br#"{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}"#.to_vec();
        assert_eq!(
            d.decode_snapshot(&mut text, InstrumentId(3)),
            Ok(DepthSnapshot {
                last_update_id: 1_027_024
            })
        );
        assert_eq!(d.asks(), &[(Price(400_000_200), Qty(1_200_000_000))]);
    }

    #[test]
    fn any_symbol_adds_symbols_only_for_accepted_frames() {
        let mut d = BinanceDecoder::any_symbol(2, 8);
        let ticker = |symbol: &str, bid: &str| {
            format!(r#"{{"u":1,"s":"{symbol}","b":"{bid}","B":"1.00000000","a":"2.00","A":"1"}}"#)
        };
        // Not canonical (a trailing space), valid: the general path adds the symbol.
        assert!(decode(&mut d, &format!("{} ", ticker("AAA", "1.00")))
            .is_ok_and(|m| m.kind() == "bookTicker"));
        assert_eq!(d.symbols().len(), 1);
        // Canonical up to its end, then refused by both paths: nothing added.
        assert!(decode(&mut d, &format!("{}x", ticker("BBB", "1.00"))).is_err());
        // Declined by the fast path alone: nothing added by it.
        assert!(d
            .decode_canonical(ticker("BBB", "1.001").as_bytes(), 0)
            .is_none());
        assert_eq!(d.symbols().len(), 1);
        // Fast path, general path (`1.001` is too precise at 2 decimals), fast path again.
        for (symbol, bid, expected) in [
            ("CCC", "1.50", Ok(InstrumentId(1))),
            (
                "DDD",
                "1.001",
                Err(field(
                    "b",
                    FieldProblem::Decimal(DecimalError::TooPrecise(2)),
                )),
            ),
            ("EEE", "3", Ok(InstrumentId(3))),
            ("CCC", "1", Ok(InstrumentId(1))),
        ] {
            let got = decode(&mut d, &ticker(symbol, bid)).map(|m| match m {
                BinanceMessage::BookTicker(q) => q.instrument,
                other => panic!("{other:?}"),
            });
            assert_eq!(got, expected, "{symbol}");
        }
        let names: Vec<&str> = d.symbols().iter().map(|s| s.symbol.as_str()).collect();
        assert_eq!(names, ["AAA", "CCC", "DDD", "EEE"]);
    }

    #[test]
    fn hostile_inputs_are_rejected_with_a_named_error() {
        let mut d = decoder();
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let huge_string = format!(
            r#"{{"u":1,"s":"{}","b":"1","B":"1","a":"2","A":"1"}}"#,
            "X".repeat(1 << 20)
        );
        let many_levels = format!(
            r#"{{"e":"depthUpdate","E":1,"s":"BNBUSDT","U":1,"u":2,"b":[{}],"a":[]}}"#,
            vec![r#"["1","1"]"#; MAX_LEVELS + 1].join(",")
        );
        let cases: Vec<(String, DecodeError)> =
            vec![
            (
                r#"{"u":1,"s":"BNBUSDT","b":"25.3"#.into(),
                DecodeError::Json { at: 0 },
            ),
            (r#"[1,2]"#.into(), DecodeError::NotObject),
            (r#"{"hello":1}"#.into(), DecodeError::UnknownKind),
            (
                r#"{"u":1,"s":"BNBUSDT","b":25.3,"B":"1","a":"2","A":"1"}"#.into(),
                field("b", FieldProblem::WrongType),
            ),
            (
                r#"{"u":1,"s":"BNBUSDT","b":"99999999999999999999","B":"1","a":"2","A":"1"}"#
                    .into(),
                field("b", FieldProblem::Decimal(DecimalError::Overflow)),
            ),
            (
                r#"{"u":1,"s":"BNBUSDT","b":"1","B":"0","a":"2","A":"1"}"#.into(),
                field("B", FieldProblem::NotPositive),
            ),
            (
                r#"{"u":1,"s":"BNBUSDT","b":"-1","B":"1","a":"2","A":"1"}"#.into(),
                field("b", FieldProblem::NotPositive),
            ),
            (
                r#"{"u":1,"s":"BNBUSDT","b":"NaN","B":"1","a":"2","A":"1"}"#.into(),
                field("b", FieldProblem::Decimal(DecimalError::BadChar(0))),
            ),
            (
                r#"{"u":1,"s":"BNBUSDT","b":"Infinity","B":"1","a":"2","A":"1"}"#.into(),
                field("b", FieldProblem::Decimal(DecimalError::BadChar(0))),
            ),
            (
                r#"{"u":-1,"s":"BNBUSDT","b":"1","B":"1","a":"2","A":"1"}"#.into(),
                field("u", FieldProblem::Negative),
            ),
            (
                r#"{"u":1,"s":"ETHUSDT","b":"1","B":"1","a":"2","A":"1"}"#.into(),
                DecodeError::UnknownSymbol,
            ),
            (
                r#"{"e":"depthUpdate","E":1,"s":"BNBUSDT","U":5,"u":4,"b":[],"a":[]}"#.into(),
                DecodeError::UpdateIdsReversed,
            ),
            (
                r#"{"e":"depthUpdate","E":1,"s":"BNBUSDT","U":1,"u":2,"b":[["1","-1"]],"a":[]}"#
                    .into(),
                DecodeError::Level {
                    side: "b",
                    index: 0,
                    problem: FieldProblem::Negative,
                },
            ),
            (
                r#"{"e":"depthUpdate","E":1,"s":"BNBUSDT","U":1,"u":2,"b":[["1"]],"a":[]}"#.into(),
                DecodeError::Level {
                    side: "b",
                    index: 0,
                    problem: FieldProblem::WrongType,
                },
            ),
            (
                r#"{"e":"depthUpdate","E":1,"s":"BNBUSDT","U":1,"u":2,"b":[],"a":{}}"#.into(),
                field("a", FieldProblem::WrongType),
            ),
            (
                r#"{"e":"trade","E":1,"s":"BNBUSDT","t":1,"p":"1","q":"1","T":1,"m":"yes"}"#.into(),
                field("m", FieldProblem::WrongType),
            ),
            (
                r#"{"stream":"x","data":5}"#.into(),
                field("data", FieldProblem::WrongType),
            ),
            (deep, DecodeError::NotObject),
            (huge_string, DecodeError::UnknownSymbol),
            (many_levels, DecodeError::TooManyLevels { side: "b", max: MAX_LEVELS }),
        ];
        for (text, expected) in cases {
            let got = decode(&mut d, &text);
            match (got, expected) {
                (Err(DecodeError::Json { .. }), DecodeError::Json { .. }) => {}
                (Err(DecodeError::Json { .. }), DecodeError::NotObject) => {}
                (got, expected) => {
                    assert_eq!(got, Err(expected), "{}", &text[..text.len().min(80)])
                }
            }
            assert!(!got_display(&mut d, &text).is_empty());
        }
        let mut invalid_utf8 = b"{\"u\":1,\"s\":\"\xff\xfe\"}".to_vec();
        assert!(matches!(
            d.decode(&mut invalid_utf8, 0),
            Err(DecodeError::Json { .. })
        ));
        let mut oversize = vec![b' '; MAX_MESSAGE + 1];
        assert_eq!(
            d.decode(&mut oversize, 0),
            Err(DecodeError::Oversize {
                len: MAX_MESSAGE + 1
            })
        );
        // The decoder still works after every rejection.
        assert!(decode(
            &mut d,
            r#"{"u":2,"s":"BNBUSDT","b":"1","B":"1","a":"2","A":"1"}"#
        )
        .is_ok());
    }

    fn got_display(d: &mut BinanceDecoder, text: &str) -> String {
        match decode(d, text) {
            Ok(m) => m.kind().to_string(),
            Err(e) => e.to_string(),
        }
    }

    fn general(d: &mut BinanceDecoder, text: &str) -> Result<BinanceMessage, DecodeError> {
        let mut bytes = text.as_bytes().to_vec();
        d.decode_tape(&mut bytes, 77)
    }

    /// Decimal strings for the property test: the usual shapes, ones whose parts straddle the
    /// fast path's 8-byte words (1..=20 digits a side, runs of 7, 8, 9, 16, 17), and ones with a
    /// byte next to a digit (`/`, `:`), a point, a sign, an escape, a quote or a non-ASCII
    /// character put at any place.
    fn number_text() -> impl Strategy<Value = String> {
        let run = || {
            prop_oneof![
                "[0-9]{1,20}",
                proptest::sample::select(vec![7usize, 8, 9, 16, 17])
                    .prop_flat_map(|n| proptest::collection::vec(
                        proptest::char::range('0', '9'),
                        n
                    ))
                    .prop_map(|d| d.into_iter().collect::<String>()),
            ]
        };
        let straddling = (
            proptest::bool::weighted(0.1),
            run(),
            proptest::option::of(run()),
        )
            .prop_map(|(negative, int, frac)| {
                let sign = if negative { "-" } else { "" };
                match frac {
                    Some(frac) => format!("{sign}{int}.{frac}"),
                    None => format!("{sign}{int}"),
                }
            });
        let spoiled = (
            "[0-9]{1,10}\\.[0-9]{1,10}",
            proptest::sample::select(vec![
                "/", ":", ".", "-", "+", "e", " ", "\\u0030", "\\\"", "É", "\u{7f}",
            ]),
            0usize..24,
        )
            .prop_map(|(text, bad, at)| {
                let at = at % (text.len() + 1);
                format!("{}{bad}{}", &text[..at], &text[at..])
            });
        prop_oneof![
            12 => "[1-9][0-9]{0,5}\\.[0-9]{8}",
            6 => "[1-9][0-9]{0,5}\\.[0-9]{1,2}0{0,8}",
            1 => "[0-9]{1,12}",
            1 => "[0-9]{1,10}\\.[0-9]{0,10}",
            1 => "-[0-9]{1,4}\\.[0-9]{1,3}",
            1 => "[0-9a-z.eE+-]{0,6}",
            2 => straddling,
            2 => spoiled,
        ]
    }

    /// A number the fast path converts itself (at most 15 integer and 8 fraction digits).
    fn in_fast_domain(number: &str) -> bool {
        let body = number.strip_prefix('-').unwrap_or(number);
        let (int, frac) = body.split_once('.').unwrap_or((body, "1"));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        (1..=15).contains(&int.len())
            && (1..=8).contains(&frac.len())
            && digits(int)
            && digits(frac)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// The fast path and the general path agree on every canonical frame: the same value
        /// and the same level buffers when the fast path accepts, and the general path's
        /// verdict when it declines. And the fast path does accept every valid frame whose
        /// symbol is plain and whose numbers are in its domain.
        #[test]
        fn fast_and_general_paths_agree(
            u in proptest::num::u64::ANY,
            first in proptest::num::u64::ANY,
            symbol in prop_oneof![
                4 => Just("BNBUSDT".to_string()),
                4 => "[A-Z]{1,8}",
                1 => "[ -~]{0,12}",
                1 => "BNB\\\\u0055SDT|BNBUSDÉ",
            ],
            fields in proptest::collection::vec(number_text(), 4),
            levels in (0usize..=12, 0usize..=12),
            scale in proptest::prop_oneof![3 => Just((8, 8)), 1 => (0u32..=10, 0u32..=10)],
            wrapped in proptest::bool::ANY,
            maker in proptest::bool::ANY,
            edit in (proptest::num::usize::ANY, proptest::sample::select(b"[]{},:\"\\ 0.9-ax\x00".as_slice()), 0u8..3),
        ) {
            let ticker = format!(
                r#"{{"u":{u},"s":"{symbol}","b":"{}","B":"{}","a":"{}","A":"{}"}}"#,
                fields[0], fields[1], fields[2], fields[3]
            );
            let trade = format!(
                r#"{{"e":"trade","E":1,"s":"{symbol}","t":{u},"p":"{}","q":"{}","T":2,"m":{maker},"M":true}}"#,
                fields[0], fields[1]
            );
            let level = |i: usize| format!(r#"["{}","{}"]"#, fields[i % 4], fields[(i + 1) % 4]);
            let side = |n: usize, from: usize| (from..from + n).map(level).collect::<Vec<_>>().join(",");
            let depth = format!(
                r#"{{"e":"depthUpdate","E":3,"s":"{symbol}","U":{},"u":{u},"b":[{}],"a":[{}]}}"#,
                // Now and then `U > u`, which both paths refuse.
                if first % 4 == 0 { first } else { u / 2 },
                side(levels.0, 0),
                side(levels.1, 1)
            );
            let plain_symbol = symbol.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
            let fast_numbers = fields.iter().all(|f| in_fast_domain(f));
            for payload in [ticker, trade, depth] {
                let text = if wrapped {
                    format!(r#"{{"stream":"x@y","data":{payload}}}"#)
                } else {
                    payload
                };
                // The frame with one byte deleted, replaced or inserted: whatever the general
                // path makes of it, the fast path must agree.
                let mut edited = text.clone().into_bytes();
                let (at, byte, kind) = edit;
                // Half of the edits hit the structure: a bracket, brace, comma, colon or quote.
                let structure: Vec<usize> = (0..edited.len())
                    .filter(|&i| b"[]{},:\"".contains(&edited[i]))
                    .collect();
                let at = if at % 2 == 0 {
                    structure[(at / 2) % structure.len()]
                } else {
                    at % edited.len()
                };
                match kind {
                    0 => { edited.remove(at); }
                    1 => edited[at] = byte,
                    _ => edited.insert(at, byte),
                }
                if let Ok(edited) = String::from_utf8(edited) {
                    let mut fast = BinanceDecoder::any_symbol(scale.0, scale.1);
                    let mut slow = BinanceDecoder::any_symbol(scale.0, scale.1);
                    proptest::prop_assert_eq!(decode(&mut fast, &edited), general(&mut slow, &edited), "{}", edited);
                    proptest::prop_assert_eq!((fast.bids(), fast.asks()), (slow.bids(), slow.asks()), "{}", edited);
                }
                let mut fast = BinanceDecoder::any_symbol(scale.0, scale.1);
                let mut slow = BinanceDecoder::any_symbol(scale.0, scale.1);
                let expected = general(&mut slow, &text);
                proptest::prop_assert_eq!(decode(&mut fast, &text), expected, "{}", text);
                proptest::prop_assert_eq!((fast.bids(), fast.asks()), (slow.bids(), slow.asks()), "{}", text);
                proptest::prop_assert_eq!(fast.symbols(), slow.symbols(), "{}", text);
                let mut canonical = BinanceDecoder::any_symbol(scale.0, scale.1);
                let accepted = canonical.decode_canonical(text.as_bytes(), 77);
                if let Some(message) = accepted {
                    proptest::prop_assert_eq!(Ok(message), expected, "{}", text);
                    proptest::prop_assert_eq!((canonical.bids(), canonical.asks()), (slow.bids(), slow.asks()), "{}", text);
                } else {
                    proptest::prop_assert!(
                        expected.is_err() || !plain_symbol || !fast_numbers,
                        "the fast path declined {}", text
                    );
                    proptest::prop_assert!(canonical.symbols().is_empty());
                }
            }
        }
    }
}
