//! Binance spot WebSocket API order entry: request encoding and HMAC-SHA-256 signing.
//!
//! Requests are written into one reused buffer ([`OrderEncoder`]): after the buffer has grown
//! to the largest request, encoding allocates nothing. Prices and quantities are written from
//! fixed point at the instrument's decimals, exactly.
//!
//! Order kinds map to the venue's types: [`OrderKind::Limit`] → `LIMIT` + `GTC`,
//! [`OrderKind::PostOnly`] → `LIMIT_MAKER`, [`OrderKind::Ioc`] → `LIMIT` + `IOC`. Client order
//! ids are `<prefix><id>`, where the prefix names the engine run so ids never collide with a
//! previous run's orders still open on the venue.
//!
//! # Signing
//!
//! A signed request carries `apiKey`, `timestamp` and `signature`: the HMAC-SHA-256, in hex, of
//! every other parameter as `name=value` pairs sorted by name and joined with `&`
//! ([`Credentials::sign`], tested against the venue's documented examples). Secrets come only
//! from the environment or a file readable by its owner alone, are zeroized when dropped, and
//! never appear in `Debug` output.

use crate::{ExecKind, ExecReport, NewOrder, OrderKind, RejectReason};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use tickwire_feed::json::{field, DecodeError, FieldProblem, Node, Obj, StaticNode, TapeParser};
use tickwire_feed::{write_decimal, InstrumentId, Side};
use tickwire_feed::{Price, Qty};
use zeroize::Zeroizing;

/// Why credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// An environment variable is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The key file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The key file is readable by others than its owner.
    #[error("{path}: mode {mode:o} lets others read the secret; chmod 600 it")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// The key file is not two lines `api_key` / `secret`.
    #[error("{path}: expected two lines: the API key, then the secret")]
    Format {
        /// The file.
        path: PathBuf,
    },
}

/// An API key and its HMAC secret, held as keyed HMAC states.
///
/// Signing starts from a state, not from the secret: HMAC-SHA-256's key blocks (`K ^ ipad`,
/// `K ^ opad`) are hashed once here, and so is the `apiKey=<key>&` every signed payload starts
/// with (the parameters are sorted and `apiKey` sorts first). With Binance's 64-character keys
/// that is three of the six SHA-256 blocks of a cancel's signature done before the request. The
/// states can sign but do not contain the secret, and no copy of it is kept (the loaders below
/// zero theirs).
pub struct Credentials {
    api_key: String,
    /// Keyed with the secret; nothing absorbed.
    keyed: Hmac<Sha256>,
    /// Keyed, with `apiKey=<api_key>&` absorbed.
    after_key: Hmac<Sha256>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &"<redacted>")
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Credentials from values in memory (tests, or after loading).
    pub fn new(api_key: &str, secret: &[u8]) -> Self {
        let keyed =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        let mut after_key = keyed.clone();
        after_key.update(b"apiKey=");
        after_key.update(api_key.as_bytes());
        after_key.update(b"&");
        Self {
            api_key: api_key.to_string(),
            keyed,
            after_key,
        }
    }

    /// Reads the key and secret from two environment variables.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::MissingEnv`] naming the variable.
    pub fn from_env(key_var: &str, secret_var: &str) -> Result<Self, CredentialsError> {
        let get = |name: &str| {
            std::env::var(name).map_err(|_| CredentialsError::MissingEnv(name.to_string()))
        };
        let key = get(key_var)?;
        let secret = Zeroizing::new(get(secret_var)?);
        Ok(Self::new(&key, secret.as_bytes()))
    }

    /// Reads `api_key\nsecret\n` from a file that only its owner may read (mode 0600 or
    /// stricter).
    ///
    /// # Errors
    ///
    /// [`CredentialsError`] naming the file and the problem.
    pub fn from_file(path: &Path) -> Result<Self, CredentialsError> {
        use std::os::unix::fs::PermissionsExt;
        let io = |source| CredentialsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CredentialsError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        match (lines.next(), lines.next(), lines.next()) {
            (Some(key), Some(secret), None) => Ok(Self::new(key, secret.as_bytes())),
            _ => Err(CredentialsError::Format {
                path: path.to_path_buf(),
            }),
        }
    }

    /// The API key (sent with every signed request; not secret, but not logged either).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Hex HMAC-SHA-256 of `payload` under the secret.
    pub fn sign(&self, payload: &[u8]) -> [u8; 64] {
        let key = self.api_key.as_bytes();
        let rest = payload
            .strip_prefix(b"apiKey=".as_slice())
            .and_then(|p| p.strip_prefix(key))
            .and_then(|p| p.strip_prefix(b"&".as_slice()));
        let mac = match rest {
            Some(rest) => {
                let mut mac = self.after_key.clone();
                mac.update(rest);
                mac
            }
            None => {
                let mut mac = self.keyed.clone();
                mac.update(payload);
                mac
            }
        };
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; 64];
        hex::encode_to_slice(digest, &mut out).expect("64 hex digits for 32 bytes");
        out
    }
}

/// Name and decimals of an instrument on the venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSpec {
    /// Venue symbol (`BTCUSDT`).
    pub name: String,
    /// Decimals of prices.
    pub price_decimals: u32,
    /// Decimals of quantities.
    pub qty_decimals: u32,
}

/// Cancels prepared at most (one per resting order; more are built when sent).
pub const PREPARED_CANCELS: usize = 16;
/// The oldest a prepared cancel's `timestamp` may be when it is sent, ms. The venue refuses a
/// request whose timestamp is more than `recvWindow` (5,000 ms unless the request says
/// otherwise) behind its clock; this leaves 4 s for clock offset and transit.
pub const PREPARED_CANCEL_MAX_AGE_MS: u64 = 1_000;

/// Writes order-entry requests into a reused buffer.
#[derive(Debug)]
pub struct OrderEncoder {
    symbols: Vec<SymbolSpec>,
    client_prefix: String,
    credentials: Option<Credentials>,
    request: RequestBuffers,
    /// Slots of [`OrderEncoder::prepare_cancel`], allocated once.
    prepared: Vec<PreparedCancel>,
}

/// A whole `order.cancel` request (signed, with credentials), made while nothing else was to
/// be done and sent as it is when the cancel is asked for.
#[derive(Debug)]
struct PreparedCancel {
    /// The order's client id; 0 for a free slot (the strategy's ids start at 1).
    client_id: u64,
    instrument: InstrumentId,
    request_id: u64,
    /// The request's `timestamp`, ms since the epoch.
    timestamp_ms: u64,
    request: Vec<u8>,
}

/// The buffers a request is built in, reused for every request (apart from the encoder's
/// symbol table, so a request can borrow a symbol while it is written: no copy per request).
#[derive(Debug)]
struct RequestBuffers {
    /// The request being built.
    json: Vec<u8>,
    /// The signature payload being built.
    payload: Vec<u8>,
}

impl RequestBuffers {
    /// Writes `{"id":..,"method":..,"params":{..}}`; with credentials, adds `apiKey`,
    /// `timestamp` and the `signature` over all parameters sorted by name.
    fn build(
        &mut self,
        credentials: Option<&Credentials>,
        method: &[u8],
        request_id: u64,
        timestamp_ms: u64,
        params: &mut [(&str, Option<Value<'_>>)],
    ) {
        let json = &mut self.json;
        let payload = &mut self.payload;
        json.clear();
        payload.clear();
        json.extend_from_slice(b"{\"id\":");
        json.extend_from_slice(itoa::Buffer::new().format(request_id).as_bytes());
        json.extend_from_slice(b",\"method\":\"");
        json.extend_from_slice(method);
        json.extend_from_slice(b"\",\"params\":{");
        let api_key = credentials.map(|c| c.api_key.as_bytes());
        // `apiKey` sorts before every other parameter name used here, `timestamp` after
        // `symbol`/`side`/`timeInForce` and before `type`.
        let mut first = true;
        let mut field =
            |name: &str, value: &Value<'_>, json: &mut Vec<u8>, payload: &mut Vec<u8>| {
                if !first {
                    json.push(b',');
                    payload.push(b'&');
                }
                first = false;
                json.push(b'"');
                json.extend_from_slice(name.as_bytes());
                json.extend_from_slice(b"\":");
                payload.extend_from_slice(name.as_bytes());
                payload.push(b'=');
                let start = payload.len();
                match *value {
                    Value::Str(s) => payload.extend_from_slice(s),
                    Value::Decimal(v, d) => write_decimal(payload, v, d, false),
                    Value::Int(v) => {
                        payload.extend_from_slice(itoa::Buffer::new().format(v).as_bytes())
                    }
                    Value::ClientId(prefix, id) => {
                        payload.extend_from_slice(prefix.as_bytes());
                        payload.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
                    }
                }
                let quoted = !matches!(value, Value::Int(_));
                if quoted {
                    json.push(b'"');
                }
                json.extend_from_slice(&payload[start..]);
                if quoted {
                    json.push(b'"');
                }
            };
        if let Some(key) = api_key {
            field("apiKey", &Value::Str(key), json, payload);
        }
        let mut timestamp_written = false;
        for (name, value) in params.iter() {
            if api_key.is_some() && !timestamp_written && *name > "timestamp" {
                field("timestamp", &Value::Int(timestamp_ms), json, payload);
                timestamp_written = true;
            }
            if let Some(v) = value {
                field(name, v, json, payload);
            }
        }
        if api_key.is_some() && !timestamp_written {
            field("timestamp", &Value::Int(timestamp_ms), json, payload);
        }
        if let Some(credentials) = credentials {
            let signature = credentials.sign(payload);
            json.extend_from_slice(b",\"signature\":\"");
            json.extend_from_slice(&signature);
            json.push(b'"');
        }
        json.extend_from_slice(b"}}");
    }
}

/// One request parameter, as it goes into both the JSON and the signature payload.
enum Value<'a> {
    Str(&'a [u8]),
    Decimal(i64, u32),
    Int(u64),
    ClientId(&'a str, u64),
}

impl OrderEncoder {
    /// An encoder for `symbols` (indexed by [`InstrumentId`]); `credentials` signs requests.
    pub fn new(
        symbols: Vec<SymbolSpec>,
        client_prefix: &str,
        credentials: Option<Credentials>,
    ) -> Self {
        Self {
            symbols,
            client_prefix: client_prefix.to_string(),
            credentials,
            request: RequestBuffers {
                json: Vec::with_capacity(512),
                payload: Vec::with_capacity(512),
            },
            prepared: (0..PREPARED_CANCELS)
                .map(|_| PreparedCancel {
                    client_id: 0,
                    instrument: InstrumentId(0),
                    request_id: 0,
                    timestamp_ms: 0,
                    request: Vec::with_capacity(512),
                })
                .collect(),
        }
    }

    /// The client order id the venue sees for `client_id`.
    pub fn client_order_id(&self, client_id: u64) -> String {
        format!("{}{client_id}", self.client_prefix)
    }

    /// The engine client id in a venue client order id of this run, if it is one.
    pub fn parse_client_order_id(&self, text: &str) -> Option<u64> {
        text.strip_prefix(&self.client_prefix)?.parse().ok()
    }

    /// `order.place` for `order`; `None` for an instrument the encoder does not know.
    pub fn new_order(
        &mut self,
        order: &NewOrder,
        request_id: u64,
        timestamp_ms: u64,
    ) -> Option<&[u8]> {
        let spec = self.symbols.get(usize::from(order.instrument.0))?;
        let side: &[u8] = match order.side {
            Side::Buy => b"BUY",
            Side::Sell => b"SELL",
        };
        let (kind, tif): (&[u8], Option<&[u8]>) = match order.kind {
            OrderKind::Limit => (b"LIMIT", Some(b"GTC")),
            OrderKind::PostOnly => (b"LIMIT_MAKER", None),
            OrderKind::Ioc => (b"LIMIT", Some(b"IOC")),
        };
        let prefix = &self.client_prefix;
        // Parameters in name order, as the signature requires.
        let mut params: [(&str, Option<Value<'_>>); 8] = [
            (
                "newClientOrderId",
                Some(Value::ClientId(prefix, order.client_id)),
            ),
            ("newOrderRespType", Some(Value::Str(b"RESULT"))),
            (
                "price",
                Some(Value::Decimal(order.price.0, spec.price_decimals)),
            ),
            (
                "quantity",
                Some(Value::Decimal(order.qty.0, spec.qty_decimals)),
            ),
            ("side", Some(Value::Str(side))),
            ("symbol", Some(Value::Str(spec.name.as_bytes()))),
            ("timeInForce", tif.map(Value::Str)),
            ("type", Some(Value::Str(kind))),
        ];
        self.request.build(
            self.credentials.as_ref(),
            b"order.place",
            request_id,
            timestamp_ms,
            &mut params,
        );
        Some(&self.request.json)
    }

    /// `order.cancel` by client order id, at `timestamp_ms`: the cancel prepared for the same
    /// order, instrument and request id if there is one and its timestamp is at most
    /// [`PREPARED_CANCEL_MAX_AGE_MS`] older (and not newer), else one built now.
    pub fn cancel(
        &mut self,
        client_id: u64,
        instrument: InstrumentId,
        request_id: u64,
        timestamp_ms: u64,
    ) -> Option<&[u8]> {
        self.cancel_with_origin(client_id, instrument, request_id, timestamp_ms)
            .map(|(request, _)| request)
    }

    /// [`OrderEncoder::cancel`], and whether the request is a prepared one (one lookup for
    /// both).
    pub fn cancel_with_origin(
        &mut self,
        client_id: u64,
        instrument: InstrumentId,
        request_id: u64,
        timestamp_ms: u64,
    ) -> Option<(&[u8], bool)> {
        if let Some(slot) = self.prepared_slot(client_id, instrument, request_id, timestamp_ms) {
            return Some((&self.prepared[slot].request, true));
        }
        self.build_cancel(client_id, instrument, request_id, timestamp_ms)
            .map(|request| (request, false))
    }

    fn prepared_slot(
        &self,
        client_id: u64,
        instrument: InstrumentId,
        request_id: u64,
        timestamp_ms: u64,
    ) -> Option<usize> {
        self.prepared.iter().position(|p| {
            p.client_id == client_id
                && client_id != 0
                && p.instrument == instrument
                && p.request_id == request_id
                && timestamp_ms
                    .checked_sub(p.timestamp_ms)
                    .is_some_and(|age| age <= PREPARED_CANCEL_MAX_AGE_MS)
        })
    }

    /// Builds the cancel of a resting order now, at `timestamp_ms`, for [`OrderEncoder::cancel`]
    /// to send as it is (replacing one prepared earlier for the order). Returns `false` when the
    /// instrument is unknown, the client id is 0, or [`PREPARED_CANCELS`] other orders hold the
    /// slots.
    pub fn prepare_cancel(
        &mut self,
        client_id: u64,
        instrument: InstrumentId,
        request_id: u64,
        timestamp_ms: u64,
    ) -> bool {
        let slot = self
            .prepared
            .iter()
            .position(|p| p.client_id == client_id)
            .or_else(|| self.prepared.iter().position(|p| p.client_id == 0));
        let Some(slot) = slot.filter(|_| client_id != 0) else {
            return false;
        };
        if self
            .build_cancel(client_id, instrument, request_id, timestamp_ms)
            .is_none()
        {
            return false;
        }
        let p = &mut self.prepared[slot];
        p.client_id = client_id;
        p.instrument = instrument;
        p.request_id = request_id;
        p.timestamp_ms = timestamp_ms;
        p.request.clear();
        p.request.extend_from_slice(&self.request.json);
        true
    }

    /// Drops the cancel prepared for an order (it is done, or its session is gone).
    pub fn forget_cancel(&mut self, client_id: u64) {
        for p in self
            .prepared
            .iter_mut()
            .filter(|p| p.client_id == client_id)
        {
            p.client_id = 0;
        }
    }

    /// Drops every prepared cancel.
    pub fn forget_cancels(&mut self) {
        self.prepared.iter_mut().for_each(|p| p.client_id = 0);
    }

    /// The prepared cancel with the oldest timestamp, if it is older than `before_ms`: its
    /// client id, instrument and request id, to prepare it again.
    pub fn stale_cancel(&self, before_ms: u64) -> Option<(u64, InstrumentId, u64)> {
        self.prepared
            .iter()
            .filter(|p| p.client_id != 0 && p.timestamp_ms < before_ms)
            .min_by_key(|p| p.timestamp_ms)
            .map(|p| (p.client_id, p.instrument, p.request_id))
    }

    fn build_cancel(
        &mut self,
        client_id: u64,
        instrument: InstrumentId,
        request_id: u64,
        timestamp_ms: u64,
    ) -> Option<&[u8]> {
        let spec = self.symbols.get(usize::from(instrument.0))?;
        let prefix = &self.client_prefix;
        let mut params = [
            (
                "origClientOrderId",
                Some(Value::ClientId(prefix, client_id)),
            ),
            ("symbol", Some(Value::Str(spec.name.as_bytes()))),
        ];
        self.request.build(
            self.credentials.as_ref(),
            b"order.cancel",
            request_id,
            timestamp_ms,
            &mut params,
        );
        Some(&self.request.json)
    }

    /// `order.cancel` of an order by its venue client order id (orders of earlier runs).
    pub fn cancel_by_venue_id(
        &mut self,
        client_order_id: &str,
        instrument: InstrumentId,
        request_id: u64,
        timestamp_ms: u64,
    ) -> Option<&[u8]> {
        let spec = self.symbols.get(usize::from(instrument.0))?;
        let mut params = [
            (
                "origClientOrderId",
                Some(Value::Str(client_order_id.as_bytes())),
            ),
            ("symbol", Some(Value::Str(spec.name.as_bytes()))),
        ];
        self.request.build(
            self.credentials.as_ref(),
            b"order.cancel",
            request_id,
            timestamp_ms,
            &mut params,
        );
        Some(&self.request.json)
    }

    /// `account.status`: the account's balances.
    pub fn account_status(&mut self, request_id: u64, timestamp_ms: u64) -> &[u8] {
        self.request.build(
            self.credentials.as_ref(),
            b"account.status",
            request_id,
            timestamp_ms,
            &mut [],
        );
        &self.request.json
    }

    /// `openOrders.status` for an instrument.
    pub fn open_orders(
        &mut self,
        instrument: InstrumentId,
        request_id: u64,
        timestamp_ms: u64,
    ) -> Option<&[u8]> {
        let spec = self.symbols.get(usize::from(instrument.0))?;
        let mut params = [("symbol", Some(Value::Str(spec.name.as_bytes())))];
        self.request.build(
            self.credentials.as_ref(),
            b"openOrders.status",
            request_id,
            timestamp_ms,
            &mut params,
        );
        Some(&self.request.json)
    }

    /// `myTrades` for an instrument: the account's fills from trade id `from_id` on (or, with
    /// `None`, in the [`MY_TRADES_SPAN_MS`] from `start_ms` on), at most [`MY_TRADES_LIMIT`].
    pub fn my_trades(
        &mut self,
        instrument: InstrumentId,
        from_id: Option<u64>,
        start_ms: u64,
        request_id: u64,
        timestamp_ms: u64,
    ) -> Option<&[u8]> {
        let spec = self.symbols.get(usize::from(instrument.0))?;
        let by_time = from_id.is_none();
        let end_ms = start_ms.saturating_add(MY_TRADES_SPAN_MS - 1);
        let mut params = [
            ("endTime", by_time.then_some(Value::Int(end_ms))),
            ("fromId", from_id.map(Value::Int)),
            ("limit", Some(Value::Int(MY_TRADES_LIMIT as u64))),
            ("startTime", by_time.then_some(Value::Int(start_ms))),
            ("symbol", Some(Value::Str(spec.name.as_bytes()))),
        ];
        self.request.build(
            self.credentials.as_ref(),
            b"myTrades",
            request_id,
            timestamp_ms,
            &mut params,
        );
        Some(&self.request.json)
    }

    /// The signature payload of the last signed request built (for tests and diagnostics; a
    /// prepared cancel was built when it was prepared).
    pub fn last_payload(&self) -> &[u8] {
        &self.request.payload
    }
}

/// Fills a `myTrades` request asks for at most (the venue's maximum).
pub const MY_TRADES_LIMIT: usize = 1000;
/// The longest time span a `myTrades` request by time covers (the venue refuses more than 24
/// hours between `startTime` and `endTime`), ms.
pub const MY_TRADES_SPAN_MS: u64 = 24 * 3_600_000;
/// Orders whose venue order id a decoder remembers (the latest ones).
pub const ORDER_IDS: usize = 4096;

/// One of the account's fills, from a `myTrades` result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueTrade {
    /// Instrument.
    pub instrument: InstrumentId,
    /// The venue's trade id.
    pub trade_id: u64,
    /// The venue's id of the order.
    pub order_id: u64,
    /// The order's side.
    pub side: Side,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Qty,
    /// Whether the order provided liquidity.
    pub maker: bool,
}

/// This run's client ids by venue order id: the latest [`ORDER_IDS`], in a ring allocated once.
#[derive(Debug)]
struct OrderIds {
    ids: Vec<(u64, u64)>,
    next: usize,
}

impl Default for OrderIds {
    fn default() -> Self {
        Self {
            ids: Vec::with_capacity(ORDER_IDS),
            next: 0,
        }
    }
}

impl OrderIds {
    fn record(&mut self, order_id: u64, client_id: u64) {
        if self.ids.len() < ORDER_IDS {
            self.ids.push((order_id, client_id));
        } else {
            self.ids[self.next] = (order_id, client_id);
            self.next = (self.next + 1) % ORDER_IDS;
        }
    }

    fn client_id(&self, order_id: u64) -> Option<u64> {
        self.ids
            .iter()
            .find(|(o, _)| *o == order_id)
            .map(|(_, c)| *c)
    }
}

/// A decoded order-entry message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEntryMessage {
    /// A response to request `id` (`None` for a non-numeric id, such as the subscription's).
    Response {
        /// The request id.
        id: Option<u64>,
        /// `Ok` for status 200, else the venue's error code.
        outcome: Result<(), i32>,
    },
    /// An execution report for one of this run's orders.
    Execution(ExecReport),
    /// A fill of an order of another run (client id 0): the account's position moved.
    ForeignFill(ExecReport),
    /// An execution report that needs no action (`NEW`, `CANCELED`: the responses carry them;
    /// anything but a fill for an order of another run).
    Ignored,
}

impl OrderEntryMessage {
    /// The message kind, for tools.
    pub fn kind(&self) -> &'static str {
        match self {
            OrderEntryMessage::Response { .. } => "response",
            OrderEntryMessage::Execution(_)
            | OrderEntryMessage::ForeignFill(_)
            | OrderEntryMessage::Ignored => "executionReport",
        }
    }
}

/// The venue's error code of a refused request as a [`RejectReason`]: `-2011` ("Unknown order
/// sent.", the refusal of a cancel) and `-2013` ("Order does not exist.") mean the venue does
/// not hold the order — it was filled, cancelled, or never placed — and become
/// [`RejectReason::UnknownOrder`]; every other code stays [`RejectReason::Venue`].
///
/// # Examples
///
/// ```
/// use tickwire_gateway::binance::reject_reason;
/// use tickwire_gateway::RejectReason;
///
/// assert_eq!(reject_reason(-2011), RejectReason::UnknownOrder);
/// assert_eq!(reject_reason(-2010), RejectReason::Venue(-2010));
/// ```
pub fn reject_reason(code: i32) -> RejectReason {
    match code {
        -2011 | -2013 => RejectReason::UnknownOrder,
        other => RejectReason::Venue(other),
    }
}

/// Decodes WebSocket API responses and user-data execution reports.
#[derive(Debug)]
pub struct OrderEntryDecoder {
    parser: TapeParser,
    /// Fills found in the last `myTrades` result.
    trades: Vec<VenueTrade>,
    /// This run's orders by venue order id, from their `NEW` execution reports.
    order_ids: OrderIds,
    symbols: Vec<SymbolSpec>,
    /// `None`: any client order id (its trailing digits, or 0), for recordings.
    client_prefix: Option<String>,
    /// Decimals given to symbols seen for the first time (recordings); `None` rejects them.
    auto_decimals: Option<u32>,
    /// Open orders of other runs found in the last `openOrders.status` result.
    foreign: Vec<(String, InstrumentId)>,
    /// Positions found in the last `account.status` result (base-asset balance per instrument).
    positions: Vec<(InstrumentId, i64)>,
}

impl OrderEntryDecoder {
    /// A decoder for `symbols` (indexed by instrument) and this run's client id prefix.
    pub fn new(symbols: Vec<SymbolSpec>, client_prefix: &str) -> Self {
        Self {
            parser: TapeParser::default(),
            trades: Vec::with_capacity(MY_TRADES_LIMIT),
            order_ids: OrderIds::default(),
            symbols,
            client_prefix: Some(client_prefix.to_string()),
            auto_decimals: None,
            foreign: Vec::new(),
            positions: Vec::new(),
        }
    }

    /// A decoder for recorded messages of any run and symbol, reading decimals at `decimals`.
    pub fn for_recordings(decimals: u32) -> Self {
        Self {
            parser: TapeParser::default(),
            trades: Vec::new(),
            order_ids: OrderIds::default(),
            symbols: Vec::new(),
            client_prefix: None,
            auto_decimals: Some(decimals),
            foreign: Vec::new(),
            positions: Vec::new(),
        }
    }

    /// Open orders of other runs (venue client order id, instrument) from the last
    /// `openOrders.status` result, taken.
    pub fn take_foreign_orders(&mut self) -> Vec<(String, InstrumentId)> {
        std::mem::take(&mut self.foreign)
    }

    /// The account's fills from the last `myTrades` result, oldest first (emptied by the next
    /// result that is a list).
    pub fn trades(&self) -> &[VenueTrade] {
        &self.trades
    }

    /// The client id of this run's order with venue order id `order_id`, if the venue reported
    /// its acceptance on the user-data stream (the latest [`ORDER_IDS`] orders are kept).
    pub fn client_id(&self, order_id: u64) -> Option<u64> {
        self.order_ids.client_id(order_id)
    }

    /// Positions from the last `account.status` result.
    pub fn positions(&self) -> &[(InstrumentId, i64)] {
        &self.positions
    }

    /// Decodes one frame.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] naming what is wrong; a well-formed error response is not an error.
    pub fn decode(&mut self, input: &mut [u8]) -> Result<OrderEntryMessage, DecodeError> {
        let symbols = &mut self.symbols;
        let prefix = self.client_prefix.as_deref();
        let auto = self.auto_decimals;
        let foreign = &mut self.foreign;
        let positions = &mut self.positions;
        let trades = &mut self.trades;
        let order_ids = &mut self.order_ids;
        self.parser.parse(input, |nodes| {
            let o = Obj::at(nodes, 0).ok_or(DecodeError::NotObject)?;
            if let Some(event) = o.get("event") {
                let e = Obj::at(nodes, event).ok_or(field("event", FieldProblem::WrongType))?;
                return execution(&e, symbols, prefix, auto, order_ids);
            }
            let status = o.u64("status")?;
            let id = match o.get("id").map(|i| nodes[i]) {
                Some(Node::Static(StaticNode::U64(v))) => Some(v),
                Some(Node::Static(StaticNode::I64(v))) => u64::try_from(v).ok(),
                Some(Node::String(_)) | Some(Node::Static(StaticNode::Null)) => None,
                Some(_) => return Err(field("id", FieldProblem::WrongType)),
                None => return Err(field("id", FieldProblem::Missing)),
            };
            if status == 200 {
                let result = o
                    .get("result")
                    .ok_or(field("result", FieldProblem::Missing))?;
                let details = ResultDetails {
                    foreign,
                    positions,
                    trades,
                };
                result_details(nodes, result, symbols, prefix, details)?;
                return Ok(OrderEntryMessage::Response {
                    id,
                    outcome: Ok(()),
                });
            }
            let error = o
                .get("error")
                .and_then(|i| Obj::at(nodes, i))
                .ok_or(field("error", FieldProblem::Missing))?;
            let code = match error.get("code").map(|i| nodes[i]) {
                Some(Node::Static(StaticNode::I64(c))) => {
                    i32::try_from(c).map_err(|_| field("code", FieldProblem::WrongType))?
                }
                Some(Node::Static(StaticNode::U64(c))) => {
                    i32::try_from(c).map_err(|_| field("code", FieldProblem::WrongType))?
                }
                Some(_) => return Err(field("code", FieldProblem::WrongType)),
                None => return Err(field("code", FieldProblem::Missing)),
            };
            error.str("msg")?;
            Ok(OrderEntryMessage::Response {
                id,
                outcome: Err(code),
            })
        })
    }
}

/// Where [`result_details`] puts what it reads.
struct ResultDetails<'a> {
    foreign: &'a mut Vec<(String, InstrumentId)>,
    positions: &'a mut Vec<(InstrumentId, i64)>,
    trades: &'a mut Vec<VenueTrade>,
}

/// Reads the details reconciliation needs from a successful result: open orders of other runs
/// (an `openOrders.status` array), the account's fills (a `myTrades` array, its entries
/// carrying `isBuyer`) and base-asset balances (an `account.status` object).
fn result_details(
    nodes: &[Node<'_>],
    result: usize,
    symbols: &[SymbolSpec],
    prefix: Option<&str>,
    details: ResultDetails<'_>,
) -> Result<(), DecodeError> {
    let ResultDetails {
        foreign,
        positions,
        trades,
    } = details;
    match nodes.get(result) {
        Some(Node::Array { len, .. }) => {
            foreign.clear();
            trades.clear();
            let mut i = result + 1;
            for _ in 0..*len {
                let order = Obj::at(nodes, i).ok_or(field("result", FieldProblem::WrongType))?;
                if order.get("isBuyer").is_some() {
                    if trades.len() < MY_TRADES_LIMIT {
                        trades.push(venue_trade(&order, symbols)?);
                    }
                    i = tickwire_feed::json::skip(nodes, i);
                    continue;
                }
                let client = order.str("clientOrderId")?;
                let symbol = order.str("symbol")?;
                let ours = prefix.is_some_and(|p| client.starts_with(p));
                if let Some(index) = symbols.iter().position(|s| s.name == symbol) {
                    if !ours {
                        foreign.push((client.to_string(), InstrumentId(index as u16)));
                    }
                }
                i = tickwire_feed::json::skip(nodes, i);
            }
        }
        Some(Node::Object { .. }) => {
            let o = Obj::at(nodes, result).ok_or(field("result", FieldProblem::WrongType))?;
            let Some(balances) = o.get("balances") else {
                return Ok(());
            };
            let Some(Node::Array { len, .. }) = nodes.get(balances) else {
                return Err(field("balances", FieldProblem::WrongType));
            };
            positions.clear();
            let mut i = balances + 1;
            for _ in 0..*len {
                let b = Obj::at(nodes, i).ok_or(field("balances", FieldProblem::WrongType))?;
                let asset = b.str("asset")?;
                for (index, spec) in symbols.iter().enumerate() {
                    if tickwire_feed::binance::base_asset(&spec.name) == asset {
                        let qty = b
                            .decimal("free", spec.qty_decimals)?
                            .checked_add(b.decimal("locked", spec.qty_decimals)?)
                            .ok_or(field(
                                "locked",
                                FieldProblem::Decimal(tickwire_feed::DecimalError::Overflow),
                            ))?;
                        positions.push((InstrumentId(index as u16), qty));
                    }
                }
                i = tickwire_feed::json::skip(nodes, i);
            }
        }
        _ => {}
    }
    Ok(())
}

/// One entry of a `myTrades` result.
fn venue_trade(t: &Obj<'_, '_>, symbols: &[SymbolSpec]) -> Result<VenueTrade, DecodeError> {
    let symbol = t.str("symbol")?;
    let index = symbols
        .iter()
        .position(|s| s.name == symbol)
        .ok_or(DecodeError::UnknownSymbol)?;
    let spec = &symbols[index];
    Ok(VenueTrade {
        instrument: InstrumentId(index as u16),
        trade_id: t.u64("id")?,
        order_id: t.u64("orderId")?,
        side: if t.bool("isBuyer")? {
            Side::Buy
        } else {
            Side::Sell
        },
        price: Price(t.positive("price", spec.price_decimals)?),
        qty: Qty(t.positive("qty", spec.qty_decimals)?),
        maker: t.bool("isMaker")?,
    })
}

fn execution(
    e: &Obj<'_, '_>,
    symbols: &mut Vec<SymbolSpec>,
    prefix: Option<&str>,
    auto: Option<u32>,
    order_ids: &mut OrderIds,
) -> Result<OrderEntryMessage, DecodeError> {
    if e.str("e")? != "executionReport" {
        return Ok(OrderEntryMessage::Ignored);
    }
    let symbol = e.str("s")?;
    let index = match (symbols.iter().position(|s| s.name == symbol), auto) {
        (Some(i), _) => i,
        (None, Some(decimals)) if symbols.len() < usize::from(u16::MAX) => {
            symbols.push(SymbolSpec {
                name: symbol.to_string(),
                price_decimals: decimals,
                qty_decimals: decimals,
            });
            symbols.len() - 1
        }
        (None, _) => return Err(DecodeError::UnknownSymbol),
    };
    let spec = &symbols[index];
    let side = match e.str("S")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(field("S", FieldProblem::WrongType)),
    };
    let exec_type = e.str("x")?;
    let client = e.str("c")?;
    let (client_id, foreign) = match prefix {
        Some(prefix) => match client.strip_prefix(prefix).and_then(|id| id.parse().ok()) {
            Some(id) => (id, false),
            None if exec_type == "TRADE" => (0, true),
            None => return Ok(OrderEntryMessage::Ignored),
        },
        None => (
            client
                .rsplit('-')
                .next()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0),
            false,
        ),
    };
    let instrument = InstrumentId(index as u16);
    let kind = match exec_type {
        "TRADE" => {
            let (pd, qd) = (spec.price_decimals, spec.qty_decimals);
            let qty = e.positive("l", qd)?;
            // q > 0 and 0 <= z <= q, so the difference cannot overflow.
            let ordered = e.positive("q", qd)?;
            let filled = e.decimal("z", qd)?;
            if filled < 0 || filled > ordered {
                return Err(field("z", FieldProblem::Negative));
            }
            let leaves = ordered - filled;
            ExecKind::Fill {
                price: Price(e.positive("L", pd)?),
                qty: Qty(qty),
                leaves: Qty(leaves),
                trade_id: e.u64("t")?,
                maker: e.bool("m")?,
            }
        }
        "EXPIRED" => ExecKind::Canceled,
        "REJECTED" => ExecKind::Rejected(RejectReason::Venue(0)),
        "NEW" => {
            if !foreign {
                order_ids.record(e.u64("i")?, client_id);
            }
            return Ok(OrderEntryMessage::Ignored);
        }
        "CANCELED" | "REPLACED" | "TRADE_PREVENTION" => return Ok(OrderEntryMessage::Ignored),
        _ => return Err(field("x", FieldProblem::WrongType)),
    };
    let report = ExecReport {
        client_id,
        instrument,
        side,
        kind,
    };
    Ok(if foreign {
        OrderEntryMessage::ForeignFill(report)
    } else {
        OrderEntryMessage::Execution(report)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_feed::{Price, Qty};

    const DOC_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    const DOC_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn signatures_match_the_venue_documentation() {
        let c = Credentials::new(DOC_KEY, DOC_SECRET.as_bytes());
        let ascii = format!(
            "apiKey={DOC_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        );
        assert_eq!(
            &c.sign(ascii.as_bytes()),
            b"aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
        );
        let unicode = format!(
            "apiKey={DOC_KEY}&price=0.10000000&quantity=1.00000000&recvWindow=5000&side=BUY&symbol=１２３４５６&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        );
        assert_eq!(
            &c.sign(unicode.as_bytes()),
            b"b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"
        );
        assert!(
            !format!("{c:?}").contains(DOC_KEY),
            "credentials never print"
        );
    }

    #[test]
    fn signing_from_the_absorbed_key_prefix_equals_a_fresh_hmac() {
        let c = Credentials::new(DOC_KEY, DOC_SECRET.as_bytes());
        let fresh = |payload: &[u8]| {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(DOC_SECRET.as_bytes()).expect("any length");
            mac.update(payload);
            let mut out = [0u8; 64];
            hex::encode_to_slice(mac.finalize().into_bytes(), &mut out).expect("64 digits");
            out
        };
        let payloads = [
            format!("apiKey={DOC_KEY}&timestamp=1"),
            format!("apiKey={DOC_KEY}&"),
            format!("apiKey={DOC_KEY}"),
            format!("apiKey={DOC_KEY}x&timestamp=1"),
            format!("apiKey={}&timestamp=1", &DOC_KEY[1..]),
            "timestamp=1&apiKey=x".to_string(),
            String::new(),
        ];
        for payload in &payloads {
            assert_eq!(
                c.sign(payload.as_bytes()),
                fresh(payload.as_bytes()),
                "{payload:?}"
            );
        }
    }

    fn encoder(credentials: Option<Credentials>) -> OrderEncoder {
        OrderEncoder::new(
            vec![SymbolSpec {
                name: "BTCUSDT".into(),
                price_decimals: 2,
                qty_decimals: 8,
            }],
            "tw7f-",
            credentials,
        )
    }

    fn order(kind: OrderKind) -> NewOrder {
        NewOrder {
            client_id: 42,
            instrument: InstrumentId(0),
            side: Side::Sell,
            price: Price(5_200_000),
            qty: Qty(1_000_000),
            kind,
        }
    }

    #[test]
    fn signed_order_place_is_sorted_signed_and_valid_json() {
        let mut e = encoder(Some(Credentials::new(DOC_KEY, DOC_SECRET.as_bytes())));
        let json = String::from_utf8(
            e.new_order(&order(OrderKind::Limit), 7, 1645423376532)
                .expect("known")
                .to_vec(),
        )
        .expect("utf8");
        let payload = String::from_utf8(e.last_payload().to_vec()).expect("utf8");
        assert_eq!(
            payload,
            format!("apiKey={DOC_KEY}&newClientOrderId=tw7f-42&newOrderRespType=RESULT&price=52000.00&quantity=0.01000000&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT")
        );
        let expected_sig = String::from_utf8(
            Credentials::new(DOC_KEY, DOC_SECRET.as_bytes())
                .sign(payload.as_bytes())
                .to_vec(),
        )
        .expect("hex");
        assert!(
            json.starts_with("{\"id\":7,\"method\":\"order.place\",\"params\":{\"apiKey\":"),
            "{json}"
        );
        assert!(json.contains("\"timestamp\":1645423376532"), "{json}");
        assert!(
            json.ends_with(&format!("\"signature\":\"{expected_sig}\"}}}}")),
            "{json}"
        );
    }

    #[test]
    fn a_prepared_cancel_is_sent_as_built_while_it_is_fresh() {
        let mut e = encoder(Some(Credentials::new(DOC_KEY, DOC_SECRET.as_bytes())));
        let at = 1_645_423_376_532;
        let built_at = |e: &mut OrderEncoder, ms| {
            let mut fresh = encoder(Some(Credentials::new(DOC_KEY, DOC_SECRET.as_bytes())));
            let expected = fresh
                .cancel(42, InstrumentId(0), 9, ms)
                .expect("known")
                .to_vec();
            e.cancel(42, InstrumentId(0), 9, at + PREPARED_CANCEL_MAX_AGE_MS)
                .expect("known")
                == expected.as_slice()
        };
        assert!(e.prepare_cancel(42, InstrumentId(0), 9, at));
        let oldest = at + PREPARED_CANCEL_MAX_AGE_MS;
        let prepared = |e: &mut OrderEncoder, ms| {
            e.cancel_with_origin(42, InstrumentId(0), 9, ms)
                .is_some_and(|(_, prepared)| prepared)
        };
        assert!(prepared(&mut e, oldest));
        assert!(!prepared(&mut e, oldest + 1));
        assert!(
            built_at(&mut e, at),
            "sent as prepared, at its own timestamp"
        );
        // Built anew: too old, a clock behind the preparation, another request id or order.
        let now_built = |e: &mut OrderEncoder, id, request_id, ms: u64| {
            let sent = e
                .cancel(id, InstrumentId(0), request_id, ms)
                .expect("known");
            sent.windows(13).any(|w| w == ms.to_string().as_bytes())
        };
        assert!(now_built(
            &mut e,
            42,
            9,
            at + PREPARED_CANCEL_MAX_AGE_MS + 1
        ));
        assert!(now_built(&mut e, 42, 9, at - 1));
        assert!(now_built(&mut e, 42, 10, at + 5));
        assert!(now_built(&mut e, 43, 9, at + 5));
        // Prepared again later, then forgotten.
        assert!(e.prepare_cancel(42, InstrumentId(0), 9, at + 600));
        assert!(!built_at(&mut e, at));
        assert!(built_at(&mut e, at + 600));
        assert_eq!(e.stale_cancel(at + 600), None);
        assert_eq!(e.stale_cancel(at + 601), Some((42, InstrumentId(0), 9)));
        e.forget_cancel(42);
        assert_eq!(e.stale_cancel(u64::MAX), None);
        assert!(now_built(&mut e, 42, 9, at + 700));
    }

    #[test]
    fn prepared_cancels_fill_their_slots_and_no_more() {
        let mut e = encoder(Some(Credentials::new(DOC_KEY, DOC_SECRET.as_bytes())));
        assert!(!e.prepare_cancel(0, InstrumentId(0), 1, 1), "0 is no order");
        assert!(
            !e.prepare_cancel(1, InstrumentId(3), 1, 1),
            "unknown instrument"
        );
        for id in 1..=PREPARED_CANCELS as u64 {
            assert!(e.prepare_cancel(id, InstrumentId(0), id, 10 + id));
        }
        assert!(!e.prepare_cancel(99, InstrumentId(0), 99, 50), "full");
        assert!(
            e.prepare_cancel(3, InstrumentId(0), 3, 60),
            "replaces its own"
        );
        assert_eq!(e.stale_cancel(u64::MAX), Some((1, InstrumentId(0), 1)));
        e.forget_cancels();
        assert_eq!(e.stale_cancel(u64::MAX), None);
        assert!(e.prepare_cancel(99, InstrumentId(0), 99, 70));
    }

    #[test]
    fn kinds_map_to_venue_types() {
        let mut e = encoder(None);
        let maker = String::from_utf8(
            e.new_order(&order(OrderKind::PostOnly), 1, 0)
                .expect("known")
                .to_vec(),
        )
        .expect("utf8");
        assert!(
            maker.contains("\"type\":\"LIMIT_MAKER\"") && !maker.contains("timeInForce"),
            "{maker}"
        );
        assert!(!maker.contains("signature") && !maker.contains("apiKey"));
        let ioc = String::from_utf8(
            e.new_order(&order(OrderKind::Ioc), 2, 0)
                .expect("known")
                .to_vec(),
        )
        .expect("utf8");
        assert!(ioc.contains("\"timeInForce\":\"IOC\""), "{ioc}");
        let cancel =
            String::from_utf8(e.cancel(42, InstrumentId(0), 3, 0).expect("known").to_vec())
                .expect("utf8");
        assert_eq!(cancel, "{\"id\":3,\"method\":\"order.cancel\",\"params\":{\"origClientOrderId\":\"tw7f-42\",\"symbol\":\"BTCUSDT\"}}");
        assert!(
            e.cancel(1, InstrumentId(5), 4, 0).is_none(),
            "unknown instrument"
        );
        assert_eq!(e.parse_client_order_id("tw7f-42"), Some(42));
        assert_eq!(e.parse_client_order_id("other-42"), None);
    }

    fn decode(text: &str) -> Result<OrderEntryMessage, DecodeError> {
        let mut d = OrderEntryDecoder::new(
            vec![SymbolSpec {
                name: "ETHBTC".into(),
                price_decimals: 8,
                qty_decimals: 8,
            }],
            "tw7f-",
        );
        let mut bytes = text.as_bytes().to_vec();
        d.decode(&mut bytes)
    }

    #[test]
    fn documented_execution_report_and_responses() {
        // The venue's documented executionReport, as a fill of one of this run's orders.
        let report = r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"tw7f-9","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE","i":4293153,"l":"0.25000000","z":"0.25000000","L":"0.10264410","n":"0","N":null,"T":1499405658657,"t":77,"v":3,"I":8641984,"w":true,"m":true,"M":false,"O":1499405658657,"Z":"0.02566102","Y":"0.02566102","Q":"0.00000000","W":1499405658657,"V":"NONE"}}"#;
        assert_eq!(
            decode(report),
            Ok(OrderEntryMessage::Execution(ExecReport {
                client_id: 9,
                instrument: InstrumentId(0),
                side: Side::Buy,
                kind: ExecKind::Fill {
                    price: Price(10_264_410),
                    qty: Qty(25_000_000),
                    leaves: Qty(75_000_000),
                    trade_id: 77,
                    maker: true,
                },
            }))
        );
        assert!(
            matches!(
                decode(&report.replace("tw7f-9", "other-9")),
                Ok(OrderEntryMessage::ForeignFill(ExecReport {
                    client_id: 0,
                    kind: ExecKind::Fill { .. },
                    ..
                }))
            ),
            "a fill of another run's order still moves the account's position"
        );
        assert_eq!(
            decode(
                &report
                    .replace("tw7f-9", "other-9")
                    .replace("\"x\":\"TRADE\"", "\"x\":\"CANCELED\"")
            ),
            Ok(OrderEntryMessage::Ignored)
        );
        assert_eq!(
            decode(&report.replace("\"x\":\"TRADE\"", "\"x\":\"NEW\"")),
            Ok(OrderEntryMessage::Ignored)
        );
        assert_eq!(
            decode(
                r#"{"id":12,"status":200,"result":{"symbol":"ETHBTC","orderId":1,"status":"NEW"},"rateLimits":[]}"#
            ),
            Ok(OrderEntryMessage::Response {
                id: Some(12),
                outcome: Ok(())
            })
        );
        assert_eq!(
            decode(
                r#"{"id":13,"status":400,"error":{"code":-2010,"msg":"Order would immediately match and take."}}"#
            ),
            Ok(OrderEntryMessage::Response {
                id: Some(13),
                outcome: Err(-2010)
            })
        );
        assert_eq!(
            decode(r#"{"id":"uds","status":200,"result":{"subscriptionId":0}}"#),
            Ok(OrderEntryMessage::Response {
                id: None,
                outcome: Ok(())
            })
        );
        assert_eq!(
            decode(r#"{"id":14,"status":400}"#),
            Err(field("error", FieldProblem::Missing))
        );
        assert_eq!(
            decode(r#"{"status":200,"result":{}}"#),
            Err(field("id", FieldProblem::Missing))
        );
        assert!(matches!(decode("{\"id\":"), Err(DecodeError::Json { .. })));
        assert_eq!(
            decode(&report.replace("\"l\":\"0.25000000\"", "\"l\":\"-1\"")),
            Err(field("l", FieldProblem::NotPositive))
        );
    }

    #[test]
    fn reconciliation_results() {
        let mut d = OrderEntryDecoder::new(
            vec![SymbolSpec {
                name: "BTCUSDT".into(),
                price_decimals: 2,
                qty_decimals: 5,
            }],
            "tw9-",
        );
        let mut open = br#"{"id":1,"status":200,"result":[{"symbol":"BTCUSDT","clientOrderId":"tw9-4"},{"symbol":"BTCUSDT","clientOrderId":"tw1-8"}]}"#.to_vec();
        assert!(matches!(
            d.decode(&mut open),
            Ok(OrderEntryMessage::Response {
                outcome: Ok(()),
                ..
            })
        ));
        assert_eq!(
            d.take_foreign_orders(),
            vec![("tw1-8".to_string(), InstrumentId(0))]
        );
        let mut account = br#"{"id":2,"status":200,"result":{"canTrade":true,"balances":[{"asset":"BTC","free":"-0.01000","locked":"0.00200"},{"asset":"USDT","free":"5","locked":"0"}]}}"#.to_vec();
        assert!(d.decode(&mut account).is_ok());
        assert_eq!(d.positions(), &[(InstrumentId(0), -800)]);
        let mut encoder = encoder(Some(Credentials::new("k", b"s")));
        let status = String::from_utf8(encoder.account_status(9, 1).to_vec()).expect("utf8");
        assert!(status.starts_with("{\"id\":9,\"method\":\"account.status\",\"params\":{\"apiKey\":\"k\",\"timestamp\":1,\"signature\":"), "{status}");
        let cancel = String::from_utf8(
            encoder
                .cancel_by_venue_id("tw1-8", InstrumentId(0), 10, 1)
                .expect("known")
                .to_vec(),
        )
        .expect("utf8");
        assert!(
            cancel.contains("\"origClientOrderId\":\"tw1-8\""),
            "{cancel}"
        );

        // The account's fills (`myTrades`), for a back-fill; the orders' client ids come from
        // their `NEW` reports.
        let mut new = br#"{"subscriptionId":0,"event":{"e":"executionReport","s":"BTCUSDT","c":"tw9-4","S":"SELL","x":"NEW","X":"NEW","i":31}}"#.to_vec();
        assert_eq!(d.decode(&mut new), Ok(OrderEntryMessage::Ignored));
        let mut trades = br#"{"id":3,"status":200,"result":[{"symbol":"BTCUSDT","id":77,"orderId":31,"orderListId":-1,"price":"50000.10","qty":"0.00200","quoteQty":"100.0002","commission":"0","commissionAsset":"BTC","time":1700000000000,"isBuyer":false,"isMaker":true,"isBestMatch":true},{"symbol":"BTCUSDT","id":80,"orderId":32,"price":"50000.00","qty":"0.00100","time":1700000000001,"isBuyer":true,"isMaker":false}]}"#.to_vec();
        assert!(d.decode(&mut trades).is_ok());
        assert_eq!(
            d.trades(),
            [
                VenueTrade {
                    instrument: InstrumentId(0),
                    trade_id: 77,
                    order_id: 31,
                    side: Side::Sell,
                    price: Price(5_000_010),
                    qty: Qty(200),
                    maker: true,
                },
                VenueTrade {
                    instrument: InstrumentId(0),
                    trade_id: 80,
                    order_id: 32,
                    side: Side::Buy,
                    price: Price(5_000_000),
                    qty: Qty(100),
                    maker: false,
                },
            ]
        );
        assert_eq!((d.client_id(31), d.client_id(32)), (Some(4), None));
        assert!(
            d.take_foreign_orders().is_empty(),
            "a trade list is no order list"
        );
        for bad in [
            r#"{"id":3,"status":200,"result":[{"symbol":"ETHUSDT","id":1,"orderId":1,"price":"1.00","qty":"1","isBuyer":true,"isMaker":true}]}"#,
            r#"{"id":3,"status":200,"result":[{"symbol":"BTCUSDT","id":1,"orderId":1,"price":"-1.00","qty":"1","isBuyer":true,"isMaker":true}]}"#,
            r#"{"id":3,"status":200,"result":[{"symbol":"BTCUSDT","id":1,"orderId":1,"price":"1.00","qty":"1","isBuyer":"yes","isMaker":true}]}"#,
        ] {
            assert!(d.decode(&mut bad.as_bytes().to_vec()).is_err(), "{bad}");
        }
        let from_id = String::from_utf8(
            encoder
                .my_trades(InstrumentId(0), Some(78), 5, 11, 1)
                .expect("known")
                .to_vec(),
        )
        .expect("utf8");
        assert_eq!(
            String::from_utf8(encoder.last_payload().to_vec()).expect("utf8"),
            "apiKey=k&fromId=78&limit=1000&symbol=BTCUSDT&timestamp=1"
        );
        assert!(
            from_id.starts_with("{\"id\":11,\"method\":\"myTrades\""),
            "{from_id}"
        );
        encoder.my_trades(InstrumentId(0), None, 5, 12, 1);
        assert_eq!(
            String::from_utf8(encoder.last_payload().to_vec()).expect("utf8"),
            "apiKey=k&endTime=86400004&limit=1000&startTime=5&symbol=BTCUSDT&timestamp=1"
        );
    }

    /// Inputs cargo-fuzz review found overflowing (a panic with overflow checks, a silent wrap
    /// without): each is now a named error.
    #[test]
    fn overflowing_balances_and_fill_quantities_are_rejected() {
        let mut d = OrderEntryDecoder::new(
            vec![SymbolSpec {
                name: "BTCUSDT".into(),
                price_decimals: 2,
                qty_decimals: 5,
            }],
            "tw9-",
        );
        let mut account = br#"{"id":2,"status":200,"result":{"balances":[{"asset":"BTC","free":"92233720368547.75807","locked":"0.00001"}]}}"#.to_vec();
        let err = d.decode(&mut account).expect_err("overflow");
        assert!(err.to_string().contains("locked"), "{err}");
        for (q, z) in [("92233720368.00000", "-1.00000"), ("1.00000", "2.00000")] {
            let text = format!(
                r#"{{"subscriptionId":0,"event":{{"e":"executionReport","E":1,"s":"BTCUSDT","c":"tw9-1","S":"BUY","o":"LIMIT","f":"GTC","q":"{q}","p":"1.00","x":"TRADE","X":"PARTIALLY_FILLED","i":4,"l":"0.25000","z":"{z}","L":"1.00","T":1,"t":77,"m":true}}}}"#
            );
            let mut report = text.into_bytes();
            let err = d.decode(&mut report).expect_err("rejected");
            assert!(err.to_string().contains("\"z\""), "{err}");
        }
    }

    #[test]
    fn key_files_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("{DOC_KEY}\n{DOC_SECRET}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            Credentials::from_file(&path),
            Err(CredentialsError::Permissions { mode: 0o644, .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(
            Credentials::from_file(&path)
                .expect("private file")
                .api_key(),
            DOC_KEY
        );
        std::fs::write(&path, "only-one-line\n").expect("write");
        assert!(matches!(
            Credentials::from_file(&path),
            Err(CredentialsError::Format { .. })
        ));
        assert!(matches!(
            Credentials::from_env("TICKWIRE_TEST_NO_SUCH_KEY", "TICKWIRE_TEST_NO_SUCH_SECRET"),
            Err(CredentialsError::MissingEnv(v)) if v == "TICKWIRE_TEST_NO_SUCH_KEY"
        ));
    }
}
