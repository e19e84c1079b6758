//! The fast path of the Binance decoder: a byte-level matcher for the exact layout Binance sends
//! `bookTicker`, `depthUpdate` and `trade` payloads in (keys in the documented order, no
//! whitespace, no escapes), raw or in the combined-stream wrapper.
//!
//! A frame is read in two steps: [`frame`] reads up to and including the symbol ([`Frame`]),
//! the caller looks the symbol's scale up, and the head's `values`/`levels` reads the rest,
//! converting each decimal where it stands (depth levels are handed to the caller one by one,
//! in the same pass).
//!
//! Invariants:
//! - It only ever *accepts*: anything it does not recognise byte for byte (another key order,
//!   whitespace, an escape, a non-ASCII byte, a leading zero, a number past `u64`, a decimal
//!   that does not convert on [`scan_decimal`]'s fast path) returns `None`, and the caller
//!   runs the general simd-json path, which decides and names any error.
//! - What the decoder accepts through it is valid JSON whose general-path decoding has exactly
//!   these field values (a property test in `binance.rs` checks the two paths agree).
//! - A decimal field is read by [`scan_decimal`] (`-?[0-9]{1,15}(\.[0-9]{1,8})?`, the value
//!   exactly what `parse_decimal` gives that text) and must be followed by its closing quote,
//!   so its string holds nothing else. Every other string must be printable ASCII without
//!   escapes.
//! - It reads the input once, front to back, eight bytes at a time where it can, and never
//!   allocates.

use crate::fixed::swar::{digit_run, digits_value, find_non_plain, load, ASCII_ZEROS};
use crate::fixed::{scan_decimal, Side};

/// Longest `u64` in decimal.
const MAX_U64_DIGITS: usize = 20;

/// Powers of ten up to a word of digits.
const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// A position in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    /// Index of the next byte to read; `<= bytes.len()` (every advance is over bytes read).
    at: usize,
}

impl<'a> Cursor<'a> {
    fn literal<const N: usize>(&mut self, text: &[u8; N]) -> Option<()> {
        let next = self.bytes.get(self.at..)?.first_chunk::<N>()?;
        (next == text).then(|| self.at += N)
    }

    /// A JSON unsigned integer without leading zeros that fits in a `u64`.
    fn unsigned(&mut self) -> Option<u64> {
        let start = self.at;
        let x = load(self.bytes, self.at) ^ ASCII_ZEROS;
        let n = digit_run(x);
        // No digit, or a leading zero (the first digit `0` and another after it).
        if n == 0 || (n > 1 && x & 0xff == 0) {
            return None;
        }
        let mut value = digits_value(x, n);
        self.at += n;
        if n == 8 {
            let x = load(self.bytes, self.at) ^ ASCII_ZEROS;
            let n = digit_run(x);
            value = value * POW10[n] + digits_value(x, n);
            self.at += n;
            // Past 16 digits, one at a time with overflow checks.
            while let Some(&b) = self.bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
                value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                self.at += 1;
            }
        }
        (self.at - start <= MAX_U64_DIGITS).then_some(value)
    }

    /// The body of a string (the opening quote already read) of printable ASCII without
    /// escapes; consumes the closing quote.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        loop {
            let n = find_non_plain(load(self.bytes, self.at));
            self.at += n;
            if n < 8 {
                break;
            }
        }
        // The first byte that is not plain must be the closing quote (past the end, `load`
        // reads zeros, and `get` finds nothing).
        let body = self.bytes.get(start..self.at)?;
        self.literal(b"\"")?;
        Some(body)
    }

    /// A decimal string's value at `decimals` (the opening quote already read), which must be
    /// followed by `then`: the closing quote and what comes after it, consumed too.
    #[inline(always)]
    fn decimal<const N: usize>(&mut self, decimals: u32, then: &[u8; N]) -> Option<i64> {
        debug_assert_eq!(
            then.first(),
            Some(&b'"'),
            "a decimal string ends with its quote"
        );
        let (value, end) = scan_decimal(self.bytes, self.at, decimals)?;
        self.at = end;
        self.literal(then)?;
        Some(value)
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.literal(b"true").is_some() {
            Some(true)
        } else {
            self.literal(b"false").map(|()| false)
        }
    }

    fn string_field<const N: usize>(&mut self, key: &[u8; N]) -> Option<&'a [u8]> {
        self.literal(key)?;
        self.plain_string()
    }

    fn end(&self) -> Option<()> {
        (self.at == self.bytes.len()).then_some(())
    }

    /// A levels array `[["P","Q"],...]` (the `[` already read), each level converted at the
    /// scale and handed to `level(side, price, qty)` as it is read; consumes the array's `]`.
    fn level_array(
        &mut self,
        side: Side,
        price_decimals: u32,
        qty_decimals: u32,
        level: &mut impl FnMut(Side, i64, i64) -> Option<()>,
    ) -> Option<()> {
        // A copy in registers while the levels are read.
        let mut c = *self;
        if c.literal(b"]").is_none() {
            c.literal(b"[\"")?;
            loop {
                let price = c.decimal(price_decimals, b"\",\"")?;
                let qty = c.decimal(qty_decimals, b"\"]")?;
                level(side, price, qty)?;
                if c.literal(b",[\"").is_none() {
                    c.literal(b"]")?;
                    break;
                }
            }
        }
        *self = c;
        Some(())
    }
}

/// The payload inside the combined-stream wrapper, or the input itself when it is not wrapped.
/// `None` when it is wrapped in any other layout.
fn payload(input: &[u8]) -> Option<&[u8]> {
    const WRAPPER: &[u8; 11] = b"{\"stream\":\"";
    if input.first_chunk::<11>() != Some(WRAPPER) {
        return Some(input);
    }
    let mut c = Cursor {
        bytes: input,
        at: WRAPPER.len(),
    };
    c.plain_string()?;
    c.literal(b",\"data\":")?;
    let inner = input.get(c.at..input.len().checked_sub(1)?)?;
    (input.last() == Some(&b'}')).then_some(inner)
}

/// A canonical frame read up to its symbol; the rest is read at the symbol's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// `{"u":N,"s":"SYM",...`
    BookTicker(BookTickerHead<'a>),
    /// `{"e":"depthUpdate","E":N,"s":"SYM","U":N,"u":N,...`
    DepthUpdate(DepthHead<'a>),
    /// `{"e":"trade","E":N,"s":"SYM",...`
    Trade(TradeHead<'a>),
}

/// The start of a canonical frame (raw or in the combined-stream wrapper), or `None` when it is
/// not one.
pub(crate) fn frame(input: &[u8]) -> Option<Frame<'_>> {
    let mut c = Cursor {
        bytes: payload(input)?,
        at: 0,
    };
    if c.literal(b"{\"u\":").is_some() {
        let update_id = c.unsigned()?;
        let symbol = c.string_field(b",\"s\":\"")?;
        return Some(Frame::BookTicker(BookTickerHead {
            update_id,
            symbol,
            rest: c,
        }));
    }
    if c.literal(b"{\"e\":\"depthUpdate\",\"E\":").is_some() {
        let event_time_ms = c.unsigned()?;
        let symbol = c.string_field(b",\"s\":\"")?;
        c.literal(b",\"U\":")?;
        let first_update_id = c.unsigned()?;
        c.literal(b",\"u\":")?;
        let last_update_id = c.unsigned()?;
        return Some(Frame::DepthUpdate(DepthHead {
            event_time_ms,
            symbol,
            first_update_id,
            last_update_id,
            rest: c,
        }));
    }
    c.literal(b"{\"e\":\"trade\",\"E\":")?;
    c.unsigned()?;
    let symbol = c.string_field(b",\"s\":\"")?;
    Some(Frame::Trade(TradeHead { symbol, rest: c }))
}

/// A canonical `bookTicker` up to its symbol:
/// `{"u":N,"s":"SYM","b":"P","B":"Q","a":"P","A":"Q"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BookTickerHead<'a> {
    pub(crate) update_id: u64,
    /// Printable ASCII without escapes.
    pub(crate) symbol: &'a [u8],
    rest: Cursor<'a>,
}

/// A `bookTicker`'s decimals at the instrument's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BookTickerValues {
    pub(crate) bid: i64,
    pub(crate) bid_qty: i64,
    pub(crate) ask: i64,
    pub(crate) ask_qty: i64,
}

impl BookTickerHead<'_> {
    /// The rest of the frame, its decimals converted.
    pub(crate) fn values(self, price_decimals: u32, qty_decimals: u32) -> Option<BookTickerValues> {
        let mut c = self.rest;
        c.literal(b",\"b\":\"")?;
        let values = BookTickerValues {
            bid: c.decimal(price_decimals, b"\",\"B\":\"")?,
            bid_qty: c.decimal(qty_decimals, b"\",\"a\":\"")?,
            ask: c.decimal(price_decimals, b"\",\"A\":\"")?,
            ask_qty: c.decimal(qty_decimals, b"\"}")?,
        };
        c.end()?;
        Some(values)
    }
}

/// A canonical `trade` up to its symbol:
/// `{"e":"trade","E":N,"s":"SYM","t":N,"p":"P","q":"Q","T":N,"m":B,"M":B}` (`M` optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TradeHead<'a> {
    /// Printable ASCII without escapes.
    pub(crate) symbol: &'a [u8],
    rest: Cursor<'a>,
}

/// A `trade`'s fields after its symbol, decimals at the instrument's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TradeValues {
    pub(crate) trade_id: u64,
    pub(crate) price: i64,
    pub(crate) qty: i64,
    pub(crate) buyer_is_maker: bool,
}

impl TradeHead<'_> {
    /// The rest of the frame, its decimals converted.
    pub(crate) fn values(self, price_decimals: u32, qty_decimals: u32) -> Option<TradeValues> {
        let mut c = self.rest;
        c.literal(b",\"t\":")?;
        let trade_id = c.unsigned()?;
        c.literal(b",\"p\":\"")?;
        let price = c.decimal(price_decimals, b"\",\"q\":\"")?;
        let qty = c.decimal(qty_decimals, b"\",\"T\":")?;
        c.unsigned()?;
        c.literal(b",\"m\":")?;
        let buyer_is_maker = c.boolean()?;
        if c.literal(b",\"M\":").is_some() {
            c.boolean()?;
        }
        c.literal(b"}")?;
        c.end()?;
        Some(TradeValues {
            trade_id,
            price,
            qty,
            buyer_is_maker,
        })
    }
}

/// A canonical `depthUpdate` up to its update ids:
/// `{"e":"depthUpdate","E":N,"s":"SYM","U":N,"u":N,"b":[["P","Q"],...],"a":[...]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DepthHead<'a> {
    pub(crate) event_time_ms: u64,
    /// Printable ASCII without escapes.
    pub(crate) symbol: &'a [u8],
    pub(crate) first_update_id: u64,
    pub(crate) last_update_id: u64,
    rest: Cursor<'a>,
}

impl DepthHead<'_> {
    /// Reads the two level arrays in one pass, calling `level(side, price, qty)` for each
    /// level (bids as [`Side::Buy`], then asks as [`Side::Sell`]) as soon as it is converted;
    /// stops with `None` when `level` declines or the rest is not canonical — possibly after
    /// some calls, so the caller discards what it kept unless the result is `Some`.
    pub(crate) fn levels(
        self,
        price_decimals: u32,
        qty_decimals: u32,
        mut level: impl FnMut(Side, i64, i64) -> Option<()>,
    ) -> Option<()> {
        let mut c = self.rest;
        c.literal(b",\"b\":[")?;
        c.level_array(Side::Buy, price_decimals, qty_decimals, &mut level)?;
        c.literal(b",\"a\":[")?;
        c.level_array(Side::Sell, price_decimals, qty_decimals, &mut level)?;
        c.literal(b"}")?;
        c.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICKER: &[u8] =
        br#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;

    fn book_ticker(input: &[u8]) -> Option<(u64, &[u8], BookTickerValues)> {
        match frame(input)? {
            Frame::BookTicker(head) => Some((head.update_id, head.symbol, head.values(8, 8)?)),
            _ => None,
        }
    }

    #[test]
    fn canonical_book_ticker_raw_and_wrapped() {
        let (update_id, symbol, values) = book_ticker(TICKER).expect("canonical");
        assert_eq!((update_id, symbol), (400_900_217, &b"BNBUSDT"[..]));
        assert_eq!(
            values,
            BookTickerValues {
                bid: 2_535_190_000,
                bid_qty: 3_121_000_000,
                ask: 2_536_520_000,
                ask_qty: 4_066_000_000
            }
        );
        let mut wrapped = br#"{"stream":"bnbusdt@bookTicker","data":"#.to_vec();
        wrapped.extend_from_slice(TICKER);
        wrapped.push(b'}');
        assert_eq!(book_ticker(&wrapped), Some((update_id, symbol, values)));
        for end in [&b"]"[..], b" ", b"}}", b""] {
            let mut other = wrapped[..wrapped.len() - 1].to_vec();
            other.extend_from_slice(end);
            assert_eq!(
                book_ticker(&other),
                None,
                "{}",
                String::from_utf8_lossy(&other)
            );
        }
        let mut other = wrapped.clone();
        other[2] = b'S';
        assert_eq!(
            book_ticker(&other),
            None,
            "{}",
            String::from_utf8_lossy(&other)
        );
    }

    #[test]
    fn anything_else_is_left_to_the_general_path() {
        let text = std::str::from_utf8(TICKER).expect("utf-8");
        for other in [
            text.replace("{\"u\":", "{ \"u\":"),
            text.replace("400900217", "0400900217"),
            text.replace("400900217", "99999999999999999999999"),
            text.replace("400900217", "18446744073709551616"),
            text.replace("BNBUSDT", "BNB\\u0055SDT"),
            text.replace("BNBUSDT", "BNBUSDÉ"),
            text.replace("BNBUSDT", "BNB\tUSDT"),
            text.replace("BNBUSDT", "BNBUSDT\u{7f}"),
            text.replace("25.35190000", "25.3519000\\u0030"),
            text.replace("25.35190000", "25.35190000 "),
            text.replace("25.35190000", "+25.3519"),
            text.replace("25.35190000", "25.351900001"),
            format!("{text} "),
            text.replace(",\"A\":\"40.66000000\"", ""),
            text[..text.len() - 1].to_string(),
        ] {
            assert_eq!(book_ticker(other.as_bytes()), None, "{other}");
        }
        assert_eq!(book_ticker(br#"{"stream":"x","data":{"u":1}"#), None);
        assert_eq!(book_ticker(b""), None);
        assert_eq!(book_ticker(b"{\"u\":1,\"s\":\"X"), None);
    }

    #[test]
    fn unsigned_integers_at_every_length() {
        for digits in 1..=20 {
            let text = "12345678901234567890"[..digits].to_string();
            let mut c = Cursor {
                bytes: text.as_bytes(),
                at: 0,
            };
            assert_eq!(c.unsigned(), text.parse().ok(), "{text}");
            assert_eq!(c.at, digits);
        }
        let max = u64::MAX.to_string();
        for (text, expected) in [
            (max.as_str(), Some(u64::MAX)),
            ("18446744073709551616", None),
            ("0", Some(0)),
            ("00", None),
            ("01", None),
            ("", None),
            ("x", None),
        ] {
            let mut c = Cursor {
                bytes: text.as_bytes(),
                at: 0,
            };
            assert_eq!(c.unsigned(), expected, "{text}");
        }
    }

    #[test]
    fn canonical_depth_update_and_its_levels() {
        let d = br#"{"e":"depthUpdate","E":123456789,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"],["0.0027","0"]]}"#;
        let Some(Frame::DepthUpdate(head)) = frame(d) else {
            panic!("canonical");
        };
        assert_eq!(
            (
                head.event_time_ms,
                head.symbol,
                head.first_update_id,
                head.last_update_id
            ),
            (123456789, &b"BNBBTC"[..], 157, 160)
        );
        let mut seen = Vec::new();
        head.levels(4, 0, |side, p, q| {
            seen.push((side, p, q));
            Some(())
        })
        .expect("levels");
        assert_eq!(
            seen,
            [
                (Side::Buy, 24, 10),
                (Side::Sell, 26, 100),
                (Side::Sell, 27, 0)
            ]
        );
        let empty = br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[],"a":[]}"#;
        let Some(Frame::DepthUpdate(head)) = frame(empty) else {
            panic!("canonical");
        };
        assert_eq!(head.levels(8, 8, |_, _, _| None), Some(()));
        for bad in [
            &br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"],],"a":[]}"#[..],
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2" ]],"a":[]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1"]],"a":[]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"]],"a":[]} "#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"]],"a":[["1","2"]"#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"]]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"],"a":[]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"]],"a":[]]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"]],"a":[[]]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"],["3","4"],"a":[]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"]["3","4"]],"a":[]}"#,
        ] {
            let levels = match frame(bad) {
                Some(Frame::DepthUpdate(head)) => head.levels(0, 0, |_, _, _| Some(())),
                _ => None,
            };
            assert_eq!(levels, None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn canonical_trade_with_and_without_m() {
        let t = br#"{"e":"trade","E":123456789,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":123456785,"m":true,"M":true}"#;
        let Some(Frame::Trade(head)) = frame(t) else {
            panic!("canonical");
        };
        assert_eq!(head.symbol, b"BNBBTC");
        assert_eq!(
            head.values(3, 0),
            Some(TradeValues {
                trade_id: 12345,
                price: 1,
                qty: 100,
                buyer_is_maker: true
            })
        );
        let without = br#"{"e":"trade","E":1,"s":"BNBBTC","t":2,"p":"1","q":"2","T":3,"m":false}"#;
        let Some(Frame::Trade(head)) = frame(without) else {
            panic!("canonical");
        };
        assert!(!head.values(0, 0).expect("canonical").buyer_is_maker);
        let Some(Frame::Trade(head)) =
            frame(br#"{"e":"trade","E":1,"s":"X","t":2,"p":"1","q":"2","T":3,"m":1}"#)
        else {
            panic!("canonical head");
        };
        assert_eq!(head.values(0, 0), None);
    }
}
