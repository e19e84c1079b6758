//! The venue's side of the Binance spot wire formats: market-data payloads it sends, WebSocket
//! API requests it parses and the responses and execution reports it answers with. Field names
//! and types follow the venue's documentation (spot `web-socket-streams.md`,
//! `web-socket-api.md`, `user-data-stream.md`).

use crate::exchange::{
    AccountId, AccountTrade, DepthChanges, ExecType, Levels, OrderStatus, OrderView, Side,
    TimeInForce, VenueError, VenueEvent,
};
use serde_json::{json, Value};
use tickwire_feed::{parse_decimal, write_decimal};

/// How prices and quantities are written for one instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Venue symbol, upper case (`BTCUSDT`).
    pub name: String,
    /// Decimals of prices.
    pub price_decimals: u32,
    /// Decimals of quantities.
    pub qty_decimals: u32,
}

impl Symbol {
    /// The lower-case stream prefix (`btcusdt`).
    pub fn stream_prefix(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    fn decimal(value: i64, decimals: u32) -> String {
        let mut out = Vec::with_capacity(24);
        write_decimal(&mut out, value, decimals, false);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// A price as the venue writes it (full scale, like `"50000.00"`).
    pub fn price(&self, v: i64) -> String {
        Self::decimal(v, self.price_decimals)
    }

    /// A quantity as the venue writes it.
    pub fn qty(&self, v: i64) -> String {
        Self::decimal(v, self.qty_decimals)
    }

    /// A quote amount (price × qty units) as the venue writes it.
    pub fn quote(&self, v: i128) -> String {
        let clamped = v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        Self::decimal(clamped, self.price_decimals + self.qty_decimals)
    }

    fn levels(&self, levels: &Levels) -> Value {
        Value::Array(
            levels
                .iter()
                .map(|(p, q)| json!([self.price(*p), self.qty(*q)]))
                .collect(),
        )
    }

    /// `<symbol>@bookTicker` payload.
    pub fn book_ticker(&self, update_id: u64, bid: (i64, i64), ask: (i64, i64)) -> Value {
        json!({
            "u": update_id, "s": self.name,
            "b": self.price(bid.0), "B": self.qty(bid.1),
            "a": self.price(ask.0), "A": self.qty(ask.1),
        })
    }

    /// `<symbol>@depth@100ms` payload.
    pub fn depth_update(&self, time_ms: u64, changes: &DepthChanges) -> Value {
        json!({
            "e": "depthUpdate", "E": time_ms, "s": self.name,
            "U": changes.first_update_id, "u": changes.last_update_id,
            "b": self.levels(&changes.bids), "a": self.levels(&changes.asks),
        })
    }

    /// `<symbol>@trade` payload.
    pub fn trade(
        &self,
        trade_id: u64,
        price: i64,
        qty: i64,
        buyer_is_maker: bool,
        time_ms: u64,
    ) -> Value {
        json!({
            "e": "trade", "E": time_ms, "s": self.name, "t": trade_id,
            "p": self.price(price), "q": self.qty(qty), "T": time_ms,
            "m": buyer_is_maker, "M": true,
        })
    }

    /// REST depth snapshot (`GET /api/v3/depth`).
    pub fn depth_snapshot(&self, last_update_id: u64, bids: &Levels, asks: &Levels) -> Value {
        json!({ "lastUpdateId": last_update_id, "bids": self.levels(bids), "asks": self.levels(asks) })
    }

    /// The order object of WebSocket API results (`RESULT` response type).
    pub fn order_result(&self, o: &OrderView, time_ms: u64) -> Value {
        let (kind, tif) = order_type(o.tif);
        json!({
            "symbol": self.name, "orderId": o.order_id, "orderListId": -1,
            "clientOrderId": o.client_order_id, "transactTime": time_ms,
            "price": self.price(o.price), "origQty": self.qty(o.orig_qty),
            "executedQty": self.qty(o.executed_qty), "cummulativeQuoteQty": self.quote(o.cum_quote),
            "status": status_name(o.status), "timeInForce": tif, "type": kind,
            "side": side_name(o.side), "workingTime": o.created_ms,
            "selfTradePreventionMode": "NONE",
        })
    }

    /// One entry of a `myTrades` result.
    pub fn trade_result(&self, t: &AccountTrade) -> Value {
        json!({
            "symbol": self.name, "id": t.trade_id, "orderId": t.order_id, "orderListId": -1,
            "price": self.price(t.price), "qty": self.qty(t.qty),
            "quoteQty": self.quote(i128::from(t.price) * i128::from(t.qty)),
            "commission": self.qty(0), "commissionAsset": tickwire_feed::binance::base_asset(&self.name),
            "time": t.time_ms, "isBuyer": t.side == Side::Buy, "isMaker": t.maker, "isBestMatch": true,
        })
    }

    /// The user-data message an execution sends to its account's subscribers: the account and
    /// the `executionReport` event, framed as the WebSocket API's subscription pushes; `None`
    /// for a trade (public streams only).
    pub fn user_data_event(&self, event: &VenueEvent) -> Option<(AccountId, String)> {
        let VenueEvent::Execution {
            order: o,
            exec_type,
            last_qty,
            last_price,
            trade_id,
            maker,
            time_ms,
        } = event
        else {
            return None;
        };
        let (kind, tif) = order_type(o.tif);
        let exec = match exec_type {
            ExecType::New => "NEW",
            ExecType::Trade => "TRADE",
            ExecType::Canceled => "CANCELED",
            ExecType::Expired => "EXPIRED",
        };
        let report = json!({
            "e": "executionReport", "E": time_ms, "s": self.name, "c": o.client_order_id,
            "S": side_name(o.side), "o": kind, "f": tif,
            "q": self.qty(o.orig_qty), "p": self.price(o.price),
            "P": self.price(0), "F": self.qty(0), "g": -1, "C": "",
            "x": exec, "X": status_name(o.status), "r": "NONE", "i": o.order_id,
            "l": self.qty(*last_qty), "z": self.qty(o.executed_qty), "L": self.price(*last_price),
            "n": "0", "N": null, "T": time_ms, "t": trade_id, "I": 0,
            "w": matches!(o.status, OrderStatus::New | OrderStatus::PartiallyFilled),
            "m": maker, "M": false, "O": o.created_ms,
            "Z": self.quote(o.cum_quote), "Y": self.quote(i128::from(*last_qty) * i128::from(*last_price)),
            "Q": self.qty(0), "W": o.created_ms, "V": "NONE",
        });
        let text = json!({ "subscriptionId": 0, "event": report }).to_string();
        Some((o.account, text))
    }
}

fn order_type(tif: TimeInForce) -> (&'static str, &'static str) {
    match tif {
        TimeInForce::Gtc => ("LIMIT", "GTC"),
        TimeInForce::Ioc => ("LIMIT", "IOC"),
        TimeInForce::MakerOnly => ("LIMIT_MAKER", "GTC"),
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn status_name(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::New => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
    }
}

/// A successful WebSocket API response.
pub fn ok_response(id: &Value, result: Value) -> Value {
    json!({ "id": id, "status": 200, "result": result })
}

/// A failed WebSocket API response.
pub fn error_response(id: &Value, status: u16, error: &VenueError) -> Value {
    json!({ "id": id, "status": status, "error": { "code": error.code, "msg": error.msg } })
}

/// A parsed WebSocket API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiRequest {
    /// `order.place`.
    Place {
        /// API key (the account).
        api_key: String,
        /// Client order id (generated if absent).
        client_order_id: Option<String>,
        /// Side.
        side: Side,
        /// Limit price.
        price: i64,
        /// Quantity.
        qty: i64,
        /// Time in force.
        tif: TimeInForce,
    },
    /// `order.cancel` by client order id.
    Cancel {
        /// API key.
        api_key: String,
        /// The order's client order id.
        orig_client_order_id: String,
    },
    /// `myTrades`: the account's fills.
    MyTrades {
        /// API key.
        api_key: String,
        /// First trade id.
        from_id: Option<u64>,
        /// Earliest trade time, ms.
        start_time: Option<u64>,
        /// Latest trade time, ms (at most 24 hours after `start_time`).
        end_time: Option<u64>,
        /// Most trades (1..=1000, 500 by default).
        limit: usize,
    },
    /// `openOrders.status`.
    OpenOrders {
        /// API key.
        api_key: String,
    },
    /// `account.status`: balances (this simulator lets the base balance go negative: it is the
    /// account's position).
    AccountStatus {
        /// API key.
        api_key: String,
    },
    /// `userDataStream.subscribe` (this venue takes the account from `apiKey`).
    SubscribeUser {
        /// API key.
        api_key: String,
    },
    /// `ping`.
    Ping,
}

/// `-1102`: a mandatory parameter is missing or malformed.
pub const BAD_PARAM: VenueError = VenueError {
    code: -1102,
    msg: "Mandatory parameter was not sent, was empty/null, or malformed.",
};
/// `-1121`: unknown symbol.
pub const BAD_SYMBOL: VenueError = VenueError {
    code: -1121,
    msg: "Invalid symbol.",
};
/// `-1100`: unknown method or unsupported parameter value.
pub const BAD_REQUEST: VenueError = VenueError {
    code: -1100,
    msg: "Illegal characters found in a parameter.",
};
/// `-1127`: a `startTime`..`endTime` span over 24 hours.
pub const SPAN_TOO_LONG: VenueError = VenueError {
    code: -1127,
    msg: "More than 24 hours between startTime and endTime.",
};
/// The longest `startTime`..`endTime` span `myTrades` answers, ms.
pub const MAX_TRADES_SPAN_MS: u64 = 24 * 3_600_000;

/// `-1013`: unsupported order type.
pub const BAD_TYPE: VenueError = VenueError {
    code: -1013,
    msg: "Unsupported order combination",
};

/// `-1021`: the request's `timestamp` is outside its `recvWindow`.
pub const OUTSIDE_RECV_WINDOW: VenueError = VenueError {
    code: -1021,
    msg: "Timestamp for this request is outside of the recvWindow.",
};
/// The `recvWindow` of a request that gives none, ms.
pub const DEFAULT_RECV_WINDOW_MS: u64 = 5_000;
/// The largest `recvWindow` a request may give, ms.
pub const MAX_RECV_WINDOW_MS: u64 = 60_000;
/// How far a request's `timestamp` may lead the venue's clock, ms.
pub const MAX_TIMESTAMP_LEAD_MS: u64 = 1_000;

/// Parses a request frame into its id and request, at `now_ms` (Unix ms) on the venue's clock:
/// a request with a `timestamp` must have been made at most its `recvWindow` earlier and at
/// most [`MAX_TIMESTAMP_LEAD_MS`] later.
///
/// # Errors
///
/// The id (or null) and the venue error to answer with.
pub fn parse_request(
    text: &str,
    symbol: &Symbol,
    now_ms: u64,
) -> Result<(Value, ApiRequest), (Value, VenueError)> {
    let v: Value = serde_json::from_str(text).map_err(|_| (Value::Null, BAD_REQUEST))?;
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let fail = |e| (id.clone(), e);
    let method = v
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| fail(BAD_REQUEST))?;
    let params = v.get("params").cloned().unwrap_or(Value::Null);
    let text_param = |name: &str| params.get(name).and_then(Value::as_str);
    if let Some(timestamp) = params.get("timestamp") {
        let ms = |v: &Value| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|t| t.parse().ok()))
        };
        let timestamp = ms(timestamp).ok_or_else(|| fail(BAD_PARAM))?;
        let window = match params.get("recvWindow") {
            None => DEFAULT_RECV_WINDOW_MS,
            Some(w) => ms(w)
                .filter(|w| *w <= MAX_RECV_WINDOW_MS)
                .ok_or_else(|| fail(BAD_PARAM))?,
        };
        if timestamp > now_ms.saturating_add(MAX_TIMESTAMP_LEAD_MS)
            || now_ms.saturating_sub(timestamp) > window
        {
            return Err(fail(OUTSIDE_RECV_WINDOW));
        }
    }
    let api_key = || {
        text_param("apiKey")
            .map(str::to_string)
            .ok_or_else(|| fail(BAD_PARAM))
    };
    let check_symbol = || match text_param("symbol") {
        Some(s) if s == symbol.name => Ok(()),
        Some(_) => Err(fail(BAD_SYMBOL)),
        None => Err(fail(BAD_PARAM)),
    };
    let request = match method {
        "order.place" => {
            check_symbol()?;
            let side = match text_param("side") {
                Some("BUY") => Side::Buy,
                Some("SELL") => Side::Sell,
                _ => return Err(fail(BAD_PARAM)),
            };
            let tif = match (text_param("type"), text_param("timeInForce")) {
                (Some("LIMIT_MAKER"), None) => TimeInForce::MakerOnly,
                (Some("LIMIT"), Some("GTC")) => TimeInForce::Gtc,
                (Some("LIMIT"), Some("IOC")) => TimeInForce::Ioc,
                _ => return Err(fail(BAD_TYPE)),
            };
            let number = |name: &str, decimals| {
                text_param(name)
                    .and_then(|t| parse_decimal(t.as_bytes(), decimals).ok())
                    .ok_or_else(|| fail(BAD_PARAM))
            };
            ApiRequest::Place {
                api_key: api_key()?,
                client_order_id: text_param("newClientOrderId").map(str::to_string),
                side,
                price: number("price", symbol.price_decimals)?,
                qty: number("quantity", symbol.qty_decimals)?,
                tif,
            }
        }
        "order.cancel" => {
            check_symbol()?;
            ApiRequest::Cancel {
                api_key: api_key()?,
                orig_client_order_id: text_param("origClientOrderId")
                    .map(str::to_string)
                    .ok_or_else(|| fail(BAD_PARAM))?,
            }
        }
        "myTrades" => {
            check_symbol()?;
            let number = |name: &str| match params.get(name) {
                None => Ok(None),
                Some(v) => v.as_u64().map(Some).ok_or_else(|| fail(BAD_PARAM)),
            };
            let (start_time, end_time) = (number("startTime")?, number("endTime")?);
            if let (Some(start), Some(end)) = (start_time, end_time) {
                if end < start {
                    return Err(fail(BAD_PARAM));
                }
                if end - start > MAX_TRADES_SPAN_MS {
                    return Err(fail(SPAN_TOO_LONG));
                }
            }
            ApiRequest::MyTrades {
                api_key: api_key()?,
                from_id: number("fromId")?,
                start_time,
                end_time,
                limit: match number("limit")? {
                    None => 500,
                    Some(n @ 1..=1000) => n as usize,
                    Some(_) => return Err(fail(BAD_PARAM)),
                },
            }
        }
        "openOrders.status" => {
            check_symbol()?;
            ApiRequest::OpenOrders {
                api_key: api_key()?,
            }
        }
        "userDataStream.subscribe" => ApiRequest::SubscribeUser {
            api_key: api_key()?,
        },
        "account.status" => ApiRequest::AccountStatus {
            api_key: api_key()?,
        },
        "ping" => ApiRequest::Ping,
        _ => return Err(fail(BAD_REQUEST)),
    };
    Ok((id, request))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc() -> Symbol {
        Symbol {
            name: "BTCUSDT".into(),
            price_decimals: 2,
            qty_decimals: 5,
        }
    }

    #[test]
    fn market_payloads_use_the_documented_fields_in_the_documented_order() {
        let s = btc();
        let t = s.book_ticker(7, (5_000_012, 150), (5_000_020, 1));
        assert_eq!(
            t.to_string(),
            r#"{"u":7,"s":"BTCUSDT","b":"50000.12","B":"0.00150","a":"50000.20","A":"0.00001"}"#
        );
        let d = s.depth_update(
            1,
            &DepthChanges {
                first_update_id: 3,
                last_update_id: 5,
                bids: vec![(100, 0)],
                asks: vec![],
            },
        );
        assert_eq!(d["e"], "depthUpdate");
        assert_eq!((d["U"].as_u64(), d["u"].as_u64()), (Some(3), Some(5)));
        assert_eq!(d["b"][0], json!(["1.00", "0.00000"]));
        assert_eq!(
            d.to_string(),
            r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":3,"u":5,"b":[["1.00","0.00000"]],"a":[]}"#
        );
        let tr = s.trade(9, 100, 2, true, 5);
        assert_eq!((tr["t"].as_u64(), tr["m"].as_bool()), (Some(9), Some(true)));
        assert_eq!(
            tr.to_string(),
            r#"{"e":"trade","E":5,"s":"BTCUSDT","t":9,"p":"1.00","q":"0.00002","T":5,"m":true,"M":true}"#
        );
    }

    #[test]
    fn requests_are_parsed_or_answered_with_the_venue_error() {
        let s = btc();
        let place = r#"{"id":5,"method":"order.place","params":{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT_MAKER","price":"50000.01","quantity":"0.01000","newClientOrderId":"tw1-7","apiKey":"k"}}"#;
        let (id, req) = parse_request(place, &s, 0).expect("valid");
        assert_eq!(id, json!(5));
        assert_eq!(
            req,
            ApiRequest::Place {
                api_key: "k".into(),
                client_order_id: Some("tw1-7".into()),
                side: Side::Buy,
                price: 5_000_001,
                qty: 1_000,
                tif: TimeInForce::MakerOnly
            }
        );
        let cases = [
            ("not json", BAD_REQUEST),
            (
                r#"{"id":1,"method":"order.place","params":{"symbol":"ETHUSDT"}}"#,
                BAD_SYMBOL,
            ),
            (
                r#"{"id":1,"method":"order.place","params":{"symbol":"BTCUSDT","side":"UP"}}"#,
                BAD_PARAM,
            ),
            (
                r#"{"id":1,"method":"order.place","params":{"symbol":"BTCUSDT","side":"BUY","type":"MARKET"}}"#,
                BAD_TYPE,
            ),
            (
                r#"{"id":1,"method":"order.place","params":{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","price":"1.001","quantity":"1","apiKey":"k"}}"#,
                BAD_PARAM,
            ),
            (r#"{"id":1,"method":"order.fly"}"#, BAD_REQUEST),
            (
                r#"{"id":1,"method":"order.cancel","params":{"symbol":"BTCUSDT","apiKey":"k"}}"#,
                BAD_PARAM,
            ),
        ];
        for (text, expected) in cases {
            let (_, e) = parse_request(text, &s, 0).expect_err(text);
            assert_eq!(e, expected, "{text}");
        }
        let cancel = |params: &str| {
            format!(
                r#"{{"id":2,"method":"order.cancel","params":{{"symbol":"BTCUSDT","apiKey":"k","origClientOrderId":"tw1-7"{params}}}}}"#
            )
        };
        let now = 1_700_000_000_000;
        for (params, outcome) in [
            (r#","timestamp":1700000000000"#, Ok(())),
            (r#","timestamp":1699999995000"#, Ok(())),
            (r#","timestamp":1699999994999"#, Err(OUTSIDE_RECV_WINDOW)),
            (r#","timestamp":"1700000001000""#, Ok(())),
            (r#","timestamp":1700000001001"#, Err(OUTSIDE_RECV_WINDOW)),
            (r#","timestamp":1699999990000,"recvWindow":10000"#, Ok(())),
            (
                r#","timestamp":1699999989999,"recvWindow":10000"#,
                Err(OUTSIDE_RECV_WINDOW),
            ),
            (
                r#","timestamp":1700000000000,"recvWindow":60001"#,
                Err(BAD_PARAM),
            ),
            (r#","timestamp":-5"#, Err(BAD_PARAM)),
            (r#","timestamp":"soon""#, Err(BAD_PARAM)),
        ] {
            let text = cancel(params);
            let parsed = parse_request(&text, &s, now)
                .map(|_| ())
                .map_err(|(_, e)| e);
            assert_eq!(parsed, outcome, "{text}");
        }
        let trades = |params: &str| {
            let text = format!(
                r#"{{"id":4,"method":"myTrades","params":{{"symbol":"BTCUSDT","apiKey":"k"{params}}}}}"#
            );
            parse_request(&text, &s, 0)
                .map(|(_, r)| r)
                .map_err(|(_, e)| e)
        };
        let my_trades = |from_id, start_time, end_time, limit| ApiRequest::MyTrades {
            api_key: "k".into(),
            from_id,
            start_time,
            end_time,
            limit,
        };
        assert_eq!(trades(""), Ok(my_trades(None, None, None, 500)));
        assert_eq!(
            trades(r#","fromId":7,"limit":1000"#),
            Ok(my_trades(Some(7), None, None, 1000))
        );
        assert_eq!(
            trades(r#","startTime":1700000000000,"endTime":1700086400000"#),
            Ok(my_trades(
                None,
                Some(1_700_000_000_000),
                Some(1_700_086_400_000),
                500
            ))
        );
        assert_eq!(
            trades(r#","startTime":1700000000000,"endTime":1700086400001"#),
            Err(SPAN_TOO_LONG)
        );
        for bad in [
            r#","limit":0"#,
            r#","limit":1001"#,
            r#","fromId":"7""#,
            r#","startTime":-1"#,
            r#","startTime":5,"endTime":4"#,
        ] {
            assert_eq!(trades(bad), Err(BAD_PARAM), "{bad}");
        }
        let err = error_response(&json!(3), 400, &BAD_SYMBOL);
        assert_eq!(
            err.to_string(),
            r#"{"id":3,"status":400,"error":{"code":-1121,"msg":"Invalid symbol."}}"#
        );
    }
}
