//! The fast path of the Binance decoder: a byte-level matcher for the exact layout Binance sends
//! `bookTicker`, `depthUpdate` and `trade` payloads in (keys in the documented order, no
//! whitespace, no escapes), raw or in the combined-stream wrapper.
//!
//! Invariants:
//! - It only ever *accepts*: anything it does not recognise byte for byte (another key order,
//!   whitespace, an escape, a non-ASCII byte, a leading zero, a number past `u64`) returns
//!   `None`, and the caller runs the general simd-json path, which decides and names any error.
//! - What the decoder accepts through it (after its decimals convert) is valid JSON whose
//!   general-path decoding has exactly these field values (a property test in `binance.rs`
//!   checks the two paths agree).
//! - Decimal fields are taken up to their closing quote unchecked and must then convert with
//!   `parse_decimal`, which accepts only `-`, digits and one `.`; the caller declines the frame
//!   otherwise. Every other string must be printable ASCII without escapes.
//! - It reads the input once, front to back, and never allocates.

/// The fields of a canonical `bookTicker` payload, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BookTickerFields<'a> {
    pub(crate) update_id: u64,
    pub(crate) symbol: &'a str,
    pub(crate) bid: &'a [u8],
    pub(crate) bid_qty: &'a [u8],
    pub(crate) ask: &'a [u8],
    pub(crate) ask_qty: &'a [u8],
}

/// The fields of a canonical `trade` payload, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TradeFields<'a> {
    pub(crate) symbol: &'a str,
    pub(crate) trade_id: u64,
    pub(crate) price: &'a [u8],
    pub(crate) qty: &'a [u8],
    pub(crate) buyer_is_maker: bool,
}

/// Longest `u64` in decimal.
const MAX_U64_DIGITS: usize = 20;

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn literal(&mut self, text: &[u8]) -> Option<()> {
        let end = self.at.checked_add(text.len())?;
        (self.bytes.get(self.at..end)? == text).then(|| self.at = end)
    }

    /// A JSON unsigned integer without leading zeros that fits in a `u64`.
    fn unsigned(&mut self) -> Option<u64> {
        let start = self.at;
        let mut value = 0u64;
        while let Some(&b) = self.bytes.get(self.at) {
            if !b.is_ascii_digit() {
                break;
            }
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.at += 1;
        }
        let digits = self.at - start;
        let leading_zero = digits > 1 && self.bytes[start] == b'0';
        (digits > 0 && digits <= MAX_U64_DIGITS && !leading_zero).then_some(value)
    }

    /// The body of a string (the opening quote already read) of printable ASCII without
    /// escapes; consumes the closing quote.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let body = self.raw_string()?;
        body.iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b'\\')
            .then_some(body)
    }

    /// The bytes up to the next quote, unchecked; consumes the quote. Only for values the
    /// caller validates completely (decimals: `parse_decimal` accepts nothing but `-`, digits
    /// and one `.`, so no escape, control or non-ASCII byte gets through).
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        let rest = self.bytes.get(self.at..)?;
        let len = memchr::memchr(b'"', rest)?;
        self.at += len + 1;
        Some(&rest[..len])
    }

    fn decimal_field(&mut self, key: &[u8]) -> Option<&'a [u8]> {
        self.literal(key)?;
        self.raw_string()
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.literal(b"true").is_some() {
            Some(true)
        } else {
            self.literal(b"false").map(|()| false)
        }
    }

    fn string_field(&mut self, key: &[u8]) -> Option<&'a [u8]> {
        self.literal(key)?;
        self.plain_string()
    }

    fn end(&self) -> Option<()> {
        (self.at == self.bytes.len()).then_some(())
    }
}

/// The payload inside the combined-stream wrapper, or the input itself when it is not wrapped.
/// `None` when it is wrapped in any other layout.
fn payload(input: &[u8]) -> Option<&[u8]> {
    if !input.starts_with(b"{\"stream\":\"") {
        return Some(input);
    }
    let mut c = Cursor {
        bytes: input,
        at: b"{\"stream\":\"".len(),
    };
    c.plain_string()?;
    c.literal(b",\"data\":")?;
    let inner = input.get(c.at..input.len().checked_sub(1)?)?;
    (input.last() == Some(&b'}')).then_some(inner)
}

/// A canonical `bookTicker`:
/// `{"u":N,"s":"SYM","b":"P","B":"Q","a":"P","A":"Q"}`.
pub(crate) fn book_ticker(input: &[u8]) -> Option<BookTickerFields<'_>> {
    let mut c = Cursor {
        bytes: payload(input)?,
        at: 0,
    };
    c.literal(b"{\"u\":")?;
    let update_id = c.unsigned()?;
    let symbol = c.string_field(b",\"s\":\"")?;
    let bid = c.decimal_field(b",\"b\":\"")?;
    let bid_qty = c.decimal_field(b",\"B\":\"")?;
    let ask = c.decimal_field(b",\"a\":\"")?;
    let ask_qty = c.decimal_field(b",\"A\":\"")?;
    c.literal(b"}")?;
    c.end()?;
    Some(BookTickerFields {
        update_id,
        symbol: std::str::from_utf8(symbol).ok()?,
        bid,
        bid_qty,
        ask,
        ask_qty,
    })
}

/// A canonical `trade`:
/// `{"e":"trade","E":N,"s":"SYM","t":N,"p":"P","q":"Q","T":N,"m":B,"M":B}` (`M` optional).
pub(crate) fn trade(input: &[u8]) -> Option<TradeFields<'_>> {
    let mut c = Cursor {
        bytes: payload(input)?,
        at: 0,
    };
    c.literal(b"{\"e\":\"trade\",\"E\":")?;
    c.unsigned()?;
    let symbol = c.string_field(b",\"s\":\"")?;
    c.literal(b",\"t\":")?;
    let trade_id = c.unsigned()?;
    let price = c.decimal_field(b",\"p\":\"")?;
    let qty = c.decimal_field(b",\"q\":\"")?;
    c.literal(b",\"T\":")?;
    c.unsigned()?;
    c.literal(b",\"m\":")?;
    let buyer_is_maker = c.boolean()?;
    if c.literal(b",\"M\":").is_some() {
        c.boolean()?;
    }
    c.literal(b"}")?;
    c.end()?;
    Some(TradeFields {
        symbol: std::str::from_utf8(symbol).ok()?,
        trade_id,
        price,
        qty,
        buyer_is_maker,
    })
}

/// The header fields of a canonical `depthUpdate`, and its two level arrays' contents (the
/// bytes between `[` and `]`) for [`levels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DepthFields<'a> {
    pub(crate) event_time_ms: u64,
    pub(crate) symbol: &'a str,
    pub(crate) first_update_id: u64,
    pub(crate) last_update_id: u64,
    pub(crate) bids: &'a [u8],
    pub(crate) asks: &'a [u8],
}

impl Cursor<'_> {
    /// A levels array `[["P","Q"],...]` (the `[` already read): consumes it and its `]`.
    fn level_array(&mut self) -> Option<()> {
        if self.literal(b"]").is_some() {
            return Some(());
        }
        loop {
            self.literal(b"[\"")?;
            self.raw_string()?;
            self.literal(b",\"")?;
            self.raw_string()?;
            self.literal(b"]")?;
            if self.literal(b"]").is_some() {
                return Some(());
            }
            self.literal(b",")?;
        }
    }
}

/// A canonical `depthUpdate`:
/// `{"e":"depthUpdate","E":N,"s":"SYM","U":N,"u":N,"b":[["P","Q"],...],"a":[...]}`.
pub(crate) fn depth_update(input: &[u8]) -> Option<DepthFields<'_>> {
    let bytes = payload(input)?;
    let mut c = Cursor { bytes, at: 0 };
    c.literal(b"{\"e\":\"depthUpdate\",\"E\":")?;
    let event_time_ms = c.unsigned()?;
    let symbol = c.string_field(b",\"s\":\"")?;
    c.literal(b",\"U\":")?;
    let first_update_id = c.unsigned()?;
    c.literal(b",\"u\":")?;
    let last_update_id = c.unsigned()?;
    c.literal(b",\"b\":[")?;
    let bids_start = c.at;
    c.level_array()?;
    let bids = &bytes[bids_start..c.at - 1];
    c.literal(b",\"a\":[")?;
    let asks_start = c.at;
    c.level_array()?;
    let asks = &bytes[asks_start..c.at - 1];
    c.literal(b"}")?;
    c.end()?;
    Some(DepthFields {
        event_time_ms,
        symbol: std::str::from_utf8(symbol).ok()?,
        first_update_id,
        last_update_id,
        bids,
        asks,
    })
}

/// Calls `level(price, qty)` for each level of an array's contents from [`depth_update`] (whose
/// structure it checked), in order; stops with `None` when `level` declines.
pub(crate) fn levels<'a>(
    contents: &'a [u8],
    mut level: impl FnMut(&'a [u8], &'a [u8]) -> Option<()>,
) -> Option<()> {
    let mut c = Cursor {
        bytes: contents,
        at: 0,
    };
    while c.at < contents.len() {
        if c.at > 0 {
            c.literal(b",")?;
        }
        c.literal(b"[\"")?;
        let price = c.raw_string()?;
        c.literal(b",\"")?;
        let qty = c.raw_string()?;
        c.literal(b"]")?;
        level(price, qty)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICKER: &[u8] =
        br#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;

    #[test]
    fn canonical_book_ticker_raw_and_wrapped() {
        let f = book_ticker(TICKER).expect("canonical");
        assert_eq!(f.update_id, 400_900_217);
        assert_eq!(
            (f.symbol, f.bid, f.ask_qty),
            ("BNBUSDT", &b"25.35190000"[..], &b"40.66000000"[..])
        );
        let mut wrapped = br#"{"stream":"bnbusdt@bookTicker","data":"#.to_vec();
        wrapped.extend_from_slice(TICKER);
        wrapped.push(b'}');
        assert_eq!(book_ticker(&wrapped), Some(f));
    }

    #[test]
    fn anything_else_is_left_to_the_general_path() {
        let text = std::str::from_utf8(TICKER).expect("utf-8");
        for other in [
            text.replace("{\"u\":", "{ \"u\":"),
            text.replace("400900217", "0400900217"),
            text.replace("400900217", "99999999999999999999999"),
            text.replace("BNBUSDT", "BNB\\u0055SDT"),
            text.replace("BNBUSDT", "BNBUSDÉ"),
            format!("{text} "),
            text.replace(",\"A\":\"40.66000000\"", ""),
            text[..text.len() - 1].to_string(),
        ] {
            assert_eq!(book_ticker(other.as_bytes()), None, "{other}");
        }
        assert_eq!(book_ticker(br#"{"stream":"x","data":{"u":1}"#), None);
        assert_eq!(book_ticker(b""), None);
    }

    #[test]
    fn canonical_depth_update_and_its_levels() {
        let d = br#"{"e":"depthUpdate","E":123456789,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"],["0.0027","0"]]}"#;
        let f = depth_update(d).expect("canonical");
        assert_eq!(
            (
                f.event_time_ms,
                f.symbol,
                f.first_update_id,
                f.last_update_id
            ),
            (123456789, "BNBBTC", 157, 160)
        );
        let mut seen = Vec::new();
        levels(f.asks, |p, q| {
            seen.push((p, q));
            Some(())
        })
        .expect("levels");
        assert_eq!(
            seen,
            [(&b"0.0026"[..], &b"100"[..]), (&b"0.0027"[..], &b"0"[..])]
        );
        let empty = br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[],"a":[]}"#;
        assert_eq!(
            depth_update(empty).map(|f| (f.bids, f.asks)),
            Some((&b""[..], &b""[..]))
        );
        for bad in [
            &br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"],],"a":[]}"#[..],
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2" ]],"a":[]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1"]],"a":[]}"#,
        ] {
            assert_eq!(depth_update(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn canonical_trade_with_and_without_m() {
        let t = br#"{"e":"trade","E":123456789,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":123456785,"m":true,"M":true}"#;
        let f = trade(t).expect("canonical");
        assert_eq!(
            (f.symbol, f.trade_id, f.price, f.qty, f.buyer_is_maker),
            ("BNBBTC", 12345, &b"0.001"[..], &b"100"[..], true)
        );
        let without = br#"{"e":"trade","E":1,"s":"BNBBTC","t":2,"p":"1","q":"2","T":3,"m":false}"#;
        assert!(!trade(without).expect("canonical").buyer_is_maker);
        assert_eq!(
            trade(br#"{"e":"trade","E":1,"s":"X","t":2,"p":"1","q":"2","T":3,"m":1}"#),
            None
        );
    }
}
