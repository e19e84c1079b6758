//! The tick-to-trade bench's harness server: the venue's market replayed as recorded WebSocket
//! frames from plain `std::net` sockets, and the venue's order entry answered by the same
//! thread, with both ends of every sample stamped by the kernel where the bytes cross the
//! loopback device.
//!
//! Why not the venue itself: its tokio/axum path (broadcast channel, task wake-ups, a command
//! channel to the exchange task) moved the floor between 35 and 60 µs p50 from run to run and
//! buried every client's own cost.
//!
//! - [`Market::record`] runs the venue's seeded market ahead of time with the venue's own code
//!   (`MarketFlow` stepping an `Exchange`, payloads from `wire::Symbol`) and keeps every frame
//!   the venue would send on the combined streams as a complete WebSocket frame (server frames
//!   are unmasked, so the bytes are fixed), each with its offset from the stream's start, plus
//!   the book after each depth diff, for REST snapshots that line up with the diffs sent.
//! - An acceptor thread (blocking `accept`, idle once clients are connected) reads each request
//!   head, answers `GET /api/v3/depth` itself, completes WebSocket handshakes (`/stream`,
//!   `/ws-api/v3`) and hands each socket, non-blocking with `TCP_NODELAY`, to the server thread.
//! - The server thread writes each recorded frame when its time comes (open loop: the schedule
//!   starts at the first market connection and never waits for a client). Market sockets have
//!   the kernel's software transmit timestamps on: a bookTicker's send time is when its bytes
//!   were handed to the loopback device, inside the server's `write` (the time right after
//!   `write` returns stands in when no stamp comes). An `order.*` request's time is when the
//!   segment holding its frame's last byte came through the loopback device, inside the
//!   client's own `write`: taken per segment by a [`PacketTap`] on `lo` (CAP_NET_RAW), or else
//!   per read by the socket's receive timestamps (`SO_TIMESTAMPNS`). So a sample is the
//!   client's time between the two crossings of the "wire", whatever the server thread was
//!   doing; what the harness adds is the rest of the kernel's loopback path, the same for every
//!   client, and the floor client measures it. The server then unmasks the request and answers
//!   it with the venue's exchange and wire code, as an order sink (client orders rest, cancel
//!   and expire in a private book and never change the recorded market).
//! - The server thread sleeps between frames and spins only briefly: before each frame, for an
//!   on-time send, and after each quote until the first order: see [`serve`]. With CPUs of its
//!   own it runs `SCHED_FIFO`.

use crate::packet_tap::PacketTap;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tickwire_venue::exchange::{AccountId, Exchange, Levels, VenueEvent};
use tickwire_venue::flow::MarketFlow;
use tickwire_venue::server::VenueSettings;
use tickwire_venue::wire::{error_response, ok_response, parse_request, ApiRequest, Symbol};

/// WebSocket opcodes (RFC 6455 §5.2).
const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xa;

/// Market steps run before the recording starts, so the first snapshot has a full ladder.
const PRE_ROLL_STEPS: usize = 100;
/// A session whose unsent bytes pass this is dropped, as the venue drops slow consumers.
const MAX_OUTBOX: usize = 4 << 20;
/// After a quote, the server spins on the order sockets this long at most, until the first
/// order arrives (see [`serve`]).
const SPIN_AFTER_QUOTE: Duration = Duration::from_micros(250);
/// The server wakes this long before a frame is due and spins the rest: a timer wake-up on a
/// virtual machine comes 25-30 µs late at the median, even for a `SCHED_FIFO` thread.
const SPIN_BEFORE_DUE: Duration = Duration::from_micros(100);
/// The longest the server sleeps, so it sees new sessions and the stop flag.
const IDLE_WAKE: Duration = Duration::from_millis(5);

/// A combined stream the harness serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    BookTicker,
    Depth,
    Trade,
}

impl Stream {
    const ALL: [Stream; 3] = [Stream::BookTicker, Stream::Depth, Stream::Trade];

    /// This stream's bit in a session's subscription mask.
    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The stream name after the symbol, as the engine subscribes to it.
    fn suffix(self) -> &'static str {
        match self {
            Stream::BookTicker => "@bookTicker",
            Stream::Depth => "@depth@100ms",
            Stream::Trade => "@trade",
        }
    }
}

/// What the harness timestamps on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireEvent {
    /// A bookTicker frame was written to a market-data socket.
    QuoteSent,
    /// An `order.*` request arrived on an order-entry socket.
    OrderReceived,
}

/// One recorded frame.
#[derive(Debug)]
struct Frame {
    /// When it is due, from the stream's start.
    at: Duration,
    stream: Stream,
    /// The whole WebSocket frame, header included.
    bytes: Box<[u8]>,
}

/// The book as a REST snapshot reports it.
#[derive(Debug)]
struct Snapshot {
    update_id: u64,
    bids: Levels,
    asks: Levels,
}

/// A recorded market: every frame of the combined streams in send order, and the snapshots.
#[derive(Debug)]
pub struct Market {
    symbol: Symbol,
    tick: i64,
    lot: i64,
    /// Sorted by `at`.
    frames: Vec<Frame>,
    /// `snapshots[n]`: the book after the `n`-th depth diff (`0`: after the pre-roll), so the
    /// snapshot served after `n` diffs went out continues exactly where diff `n` ended.
    snapshots: Vec<Snapshot>,
}

/// Best bid and best ask, each (price, quantity).
type Top = ((i64, i64), (i64, i64));

fn top(ex: &Exchange) -> Option<Top> {
    Some((ex.best_bid()?, ex.best_ask()?))
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Market {
    /// Runs the market for `span` and keeps what the venue would send, frame by frame: per step
    /// the trades, then a bookTicker when the top changed (as the venue publishes); a depth diff
    /// every `depth_interval`, half a step after its step so it never shares a quote's turn.
    pub fn record(s: &VenueSettings, span: Duration) -> Self {
        let mut ex = Exchange::new(s.tick, s.lot);
        let mut flow = MarketFlow::new(s.flow.clone());
        let start_ms = unix_ms();
        for _ in 0..PRE_ROLL_STEPS {
            flow.step(&mut ex, start_ms);
        }
        let _ = ex.take_events();
        let _ = ex.take_depth_changes();
        let snapshot = |ex: &Exchange| {
            let (bids, asks) = ex.depth(usize::MAX);
            Snapshot {
                update_id: ex.update_id(),
                bids,
                asks,
            }
        };
        let mut snapshots = vec![snapshot(&ex)];
        let mut last_top = top(&ex);
        let step_ns = s.step.as_nanos().max(1) as u64;
        let depth_every = (s.depth_interval.as_nanos() as u64 / step_ns).max(1);
        let steps = span.as_nanos() as u64 / step_ns;
        let prefix = s.symbol.stream_prefix();
        let combined = |stream: Stream, payload: Value| {
            let text = format!(
                "{{\"stream\":\"{prefix}{}\",\"data\":{payload}}}",
                stream.suffix()
            );
            server_frame(OP_TEXT, text.as_bytes()).into_boxed_slice()
        };
        let mut frames = Vec::with_capacity(steps as usize + steps as usize / depth_every as usize);
        for k in 1..=steps {
            let at = Duration::from_nanos(k * step_ns);
            let time_ms = start_ms + at.as_millis() as u64;
            flow.step(&mut ex, time_ms);
            for event in ex.take_events() {
                // Executions here are the background accounts' own, which the venue never sends.
                if let VenueEvent::Trade {
                    trade_id,
                    price,
                    qty,
                    buyer_is_maker,
                    time_ms,
                } = event
                {
                    let payload = s
                        .symbol
                        .trade(trade_id, price, qty, buyer_is_maker, time_ms);
                    frames.push(Frame {
                        at,
                        stream: Stream::Trade,
                        bytes: combined(Stream::Trade, payload),
                    });
                }
            }
            if let Some(now) = top(&ex) {
                if last_top != Some(now) {
                    last_top = Some(now);
                    let (bid, ask) = now;
                    frames.push(Frame {
                        at,
                        stream: Stream::BookTicker,
                        bytes: combined(
                            Stream::BookTicker,
                            s.symbol.book_ticker(ex.update_id(), bid, ask),
                        ),
                    });
                }
            }
            if k % depth_every == 0 {
                if let Some(changes) = ex.take_depth_changes() {
                    frames.push(Frame {
                        at: at + s.step / 2,
                        stream: Stream::Depth,
                        bytes: combined(Stream::Depth, s.symbol.depth_update(time_ms, &changes)),
                    });
                    snapshots.push(snapshot(&ex));
                }
            }
        }
        debug_assert!(frames.windows(2).all(|w| w[0].at <= w[1].at));
        Self {
            symbol: s.symbol.clone(),
            tick: s.tick,
            lot: s.lot,
            frames,
            snapshots,
        }
    }

    /// bookTicker frames recorded.
    pub fn quotes(&self) -> usize {
        self.frames
            .iter()
            .filter(|f| f.stream == Stream::BookTicker)
            .count()
    }
}

/// A server-to-client WebSocket frame (final, unmasked) around `payload`.
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => frame.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            frame.push(126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// A client-to-server WebSocket text frame (final, masked with `mask`) around `payload`.
pub fn client_text_frame(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = server_frame(OP_TEXT, payload);
    let header = frame.len() - payload.len();
    frame[1] |= 0x80;
    frame.splice(header..header, mask);
    for (i, b) in frame[header + 4..].iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    frame
}

/// The header of the frame at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    /// Last frame of its message.
    pub fin: bool,
    /// Opcode.
    pub opcode: u8,
    /// Header bytes (mask key included).
    pub header: usize,
    /// Payload bytes.
    pub len: usize,
    /// The client's masking key.
    pub mask: Option<[u8; 4]>,
}

impl FrameHead {
    /// The header at the front of `buf`; `None` until all of it is there.
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let (&b0, &b1) = (buf.first()?, buf.get(1)?);
        let (len, mut header) = match b1 & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
                4,
            ),
            127 => {
                let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
                (usize::try_from(u64::from_be_bytes(bytes)).ok()?, 10)
            }
            n => (usize::from(n), 2),
        };
        let mask = if b1 & 0x80 != 0 {
            let key: [u8; 4] = buf.get(header..header + 4)?.try_into().ok()?;
            header += 4;
            Some(key)
        } else {
            None
        };
        Some(Self {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0f,
            header,
            len,
            mask,
        })
    }

    /// The whole frame's length.
    pub fn total(&self) -> usize {
        self.header.saturating_add(self.len)
    }
}

/// What a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Combined market streams; the mask holds [`Stream::bit`]s.
    Market { streams: u8 },
    /// The WebSocket API.
    OrderEntry,
}

/// One client socket, non-blocking, owned by the server thread.
#[derive(Debug)]
struct Session {
    id: u64,
    socket: TcpStream,
    role: Role,
    /// The client's port (its flow in the [`PacketTap`]).
    client_port: u16,
    /// Stream offset of `inbox[0]`: bytes the client sent before it, request head included.
    consumed: u64,
    /// Bytes read and not yet parsed into frames.
    inbox: Vec<u8>,
    /// The payload of a fragmented message so far.
    message: Vec<u8>,
    /// Bytes the socket did not take yet, in order.
    outbox: Vec<u8>,
    closed: bool,
}

impl Session {
    fn wants(&self, stream: Stream) -> bool {
        matches!(self.role, Role::Market { streams } if streams & stream.bit() != 0)
    }

    /// Writes `bytes` after whatever is queued; `true` when the socket took all of it at once.
    fn send(&mut self, bytes: &[u8]) -> bool {
        if !self.outbox.is_empty() {
            self.outbox.extend_from_slice(bytes);
            self.flush();
            return false;
        }
        match self.socket.write(bytes) {
            Ok(n) if n == bytes.len() => return true,
            Ok(n) => self.outbox.extend_from_slice(&bytes[n..]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.outbox.extend_from_slice(bytes),
            Err(_) => self.closed = true,
        }
        if self.outbox.len() > MAX_OUTBOX {
            self.closed = true;
        }
        false
    }

    fn flush(&mut self) {
        while !self.outbox.is_empty() {
            match self.socket.write(&self.outbox) {
                Ok(0) => {
                    self.closed = true;
                    return;
                }
                Ok(n) => {
                    self.outbox.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.closed = true;
                    return;
                }
            }
        }
        if self.outbox.len() > MAX_OUTBOX {
            self.closed = true;
        }
    }

    /// One non-blocking read of what the socket holds (up to 64 KiB); when anything came, the
    /// time the last of it reached the socket ([`recv_stamped`]).
    fn read(&mut self, log: &mut ServeLog) -> Option<u64> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match recv_stamped(&self.socket, &mut chunk) {
                Ok((0, _)) => {
                    self.closed = true;
                    return None;
                }
                Ok((n, stamp)) => {
                    self.inbox.extend_from_slice(&chunk[..n]);
                    return Some(match stamp {
                        Some(kernel) => {
                            log.kernel_stamps += 1;
                            kernel
                        }
                        None => {
                            log.user_stamps += 1;
                            realtime_ns()
                        }
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(_) => {
                    self.closed = true;
                    return None;
                }
            }
        }
    }

    /// Parses the inbox into messages (opcode, unmasked payload, stream offset of the message's
    /// last byte): control frames as they come, data frames once their message is complete.
    fn take_messages(&mut self, out: &mut Vec<(u8, Vec<u8>, u64)>) {
        let mut at = 0;
        while let Some(head) = FrameHead::parse(&self.inbox[at..]) {
            if self.inbox.len() - at < head.total() {
                break;
            }
            let Some(mask) = head.mask else {
                // RFC 6455 §5.1: a server closes on an unmasked client frame.
                self.closed = true;
                return;
            };
            let mut payload = self.inbox[at + head.header..at + head.total()].to_vec();
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
            at += head.total();
            let last_byte = self.consumed + at as u64 - 1;
            match head.opcode {
                OP_CONTINUATION if self.message.is_empty() => {
                    // RFC 6455 §5.4: a continuation with no message to continue.
                    self.closed = true;
                    return;
                }
                OP_TEXT | OP_BINARY | OP_CONTINUATION => {
                    if head.opcode != OP_CONTINUATION {
                        self.message.clear();
                        self.message.push(head.opcode);
                    }
                    self.message.extend_from_slice(&payload);
                    if head.fin {
                        let opcode = self.message[0];
                        out.push((opcode, self.message[1..].to_vec(), last_byte));
                        self.message.clear();
                    }
                }
                control => out.push((control, payload, last_byte)),
            }
        }
        self.inbox.drain(..at);
        self.consumed += at as u64;
    }
}

/// The venue's WebSocket API as an order sink, with the venue's exchange and wire code: the
/// same requests, responses, errors and execution reports, in the same order.
#[derive(Debug)]
struct OrderDesk {
    symbol: Symbol,
    book: Exchange,
    accounts: HashMap<String, AccountId>,
    /// Sessions subscribed to each account's user-data stream.
    users: HashMap<AccountId, Vec<u64>>,
    generated_ids: u64,
}

impl OrderDesk {
    fn new(market: &Market) -> Self {
        Self {
            symbol: market.symbol.clone(),
            book: Exchange::new(market.tick, market.lot),
            accounts: HashMap::new(),
            users: HashMap::new(),
            generated_ids: 0,
        }
    }

    fn account(&mut self, key: &str) -> AccountId {
        let next = self.accounts.len() as AccountId + 1;
        *self.accounts.entry(key.to_string()).or_insert(next)
    }

    /// Answers one request from `session`: its response, then the execution reports it caused,
    /// each as (session, text).
    fn answer(&mut self, session: u64, text: &str, replies: &mut Vec<(u64, String)>) {
        let now = unix_ms();
        let response = match parse_request(text, &self.symbol, now) {
            Err((id, error)) => error_response(&id, 400, &error),
            Ok((id, request)) => self.act(session, &id, request, now),
        };
        replies.push((session, response.to_string()));
        for event in self.book.take_events() {
            // Trades between clients' orders would go to the public streams; the recorded
            // market stays as recorded (and the bench's clients never cross each other).
            let Some((account, text)) = self.symbol.user_data_event(&event) else {
                continue;
            };
            let Some(subscribers) = self.users.get(&account) else {
                continue;
            };
            for &to in subscribers {
                replies.push((to, text.clone()));
            }
        }
    }

    fn act(&mut self, session: u64, id: &Value, request: ApiRequest, now: u64) -> Value {
        match request {
            ApiRequest::Ping => ok_response(id, json!({})),
            ApiRequest::SubscribeUser { api_key } => {
                let account = self.account(&api_key);
                self.users.entry(account).or_default().push(session);
                ok_response(id, json!({ "subscriptionId": 0 }))
            }
            ApiRequest::AccountStatus { api_key } => {
                let account = self.account(&api_key);
                let position = self.book.account(account).position;
                ok_response(
                    id,
                    json!({
                        "canTrade": true,
                        "balances": [{
                            "asset": tickwire_feed::binance::base_asset(&self.symbol.name),
                            "free": self.symbol.qty(position),
                            "locked": self.symbol.qty(0),
                        }],
                    }),
                )
            }
            ApiRequest::MyTrades {
                api_key,
                from_id,
                start_time,
                end_time,
                limit,
            } => {
                let account = self.account(&api_key);
                let trades = self
                    .book
                    .trades(account, from_id, (start_time, end_time), limit);
                ok_response(
                    id,
                    trades.iter().map(|t| self.symbol.trade_result(t)).collect(),
                )
            }
            ApiRequest::OpenOrders { api_key } => {
                let account = self.account(&api_key);
                let open: Vec<Value> = self
                    .book
                    .open_orders(account)
                    .iter()
                    .map(|o| self.symbol.order_result(o, now))
                    .collect();
                ok_response(id, Value::Array(open))
            }
            ApiRequest::Cancel {
                api_key,
                orig_client_order_id,
            } => {
                let account = self.account(&api_key);
                match self.book.cancel(account, &orig_client_order_id, now) {
                    Ok(o) => {
                        let mut result = self.symbol.order_result(&o, now);
                        result["origClientOrderId"] = json!(orig_client_order_id);
                        ok_response(id, result)
                    }
                    Err(e) => error_response(id, 400, &e),
                }
            }
            ApiRequest::Place {
                api_key,
                client_order_id,
                side,
                price,
                qty,
                tif,
            } => {
                let account = self.account(&api_key);
                let client = client_order_id.unwrap_or_else(|| {
                    self.generated_ids += 1;
                    format!("venue-{}", self.generated_ids)
                });
                match self
                    .book
                    .place(account, &client, side, price, qty, tif, now)
                {
                    Ok(o) => ok_response(id, self.symbol.order_result(&o, now)),
                    Err(e) => error_response(id, 400, &e),
                }
            }
        }
    }
}

/// How a harness runs.
#[derive(Debug, Clone)]
pub struct HarnessSettings {
    /// From the first market connection to the start of the measured window (connection,
    /// snapshot, reconciliation, the client's own warm-up).
    pub warmup: Duration,
    /// The measured window.
    pub measure: Duration,
    /// CPUs the server and acceptor threads are pinned to (`None`: not pinned).
    pub cpus: Option<Vec<usize>>,
    /// Run the server thread `SCHED_FIFO` (when allowed). Only with CPUs of its own: its spins
    /// would otherwise hold a client thread off the CPU they share, the very thread whose
    /// order it is waiting for.
    pub fifo: bool,
}

/// State the bench's threads share with the harness's.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// Set by the server thread once the measured window is over.
    finished: AtomicBool,
    /// Depth diffs written so far: the index of the snapshot that lines up with them.
    depth_sent: AtomicUsize,
}

/// What the server thread saw. Times of events are `CLOCK_REALTIME` nanoseconds, the clock of
/// the kernel's receive timestamps (see [`ServeLog::clock_drift_ns`]).
#[derive(Debug, Default)]
pub struct ServeLog {
    /// Quote sends and order receipts, in order.
    pub events: Vec<(u64, WireEvent)>,
    /// The measured window, once the stream started.
    pub window: Option<(u64, u64)>,
    /// Per bookTicker in the window: its send timestamp minus its schedule, ns (the harness's
    /// own pacing: its wake-up latency, or a turn that was busy when the quote fell due).
    pub send_late_ns: Vec<u64>,
    /// Per bookTicker in the window: how long its `write` took, ns (the send timestamp's
    /// uncertainty when it is taken after `write` returns, without a kernel stamp).
    pub write_ns: Vec<u64>,
    /// Per bookTicker in the window: its send timestamp minus the start of its `write`, ns
    /// (where inside the `write` the kernel stamped it).
    pub stamp_in_write_ns: Vec<u64>,
    /// Quotes stamped by the kernel as they were handed to the loopback device.
    pub kernel_sends: u64,
    /// Quotes without a kernel stamp, stamped after `write` returned.
    pub user_sends: u64,
    /// Reads stamped by the kernel (`SO_TIMESTAMPNS`).
    pub kernel_stamps: u64,
    /// Reads that came without a kernel timestamp and were stamped after `read` returned.
    pub user_stamps: u64,
    /// Reads that completed two or more `order.*` frames at once. Without the packet tap this
    /// matters: the kernel stamps a read with the arrival of its last bytes, so the first
    /// order's time is then an upper bound.
    pub coalesced_reads: u64,
    /// Whether the loopback packet tap ran ([`PacketTap`]).
    pub tap: bool,
    /// Orders stamped by the packet tap: when the segment holding the frame's last byte came
    /// through the loopback device.
    pub tap_stamped_orders: u64,
    /// Per read holding two or more orders, with the tap: how much later its last order was
    /// sent than its first, ns — what a per-read stamp would have added to the first order.
    pub merged_gap_ns: Vec<u64>,
    /// Orders stamped by their socket read (no tap, or the tap missed the segment).
    pub read_stamped_orders: u64,
    /// Segments the tap saw without their connection's SYN.
    pub tap_orphans: u64,
    /// `order.place` requests received.
    pub places: u64,
    /// `order.cancel` requests received.
    pub cancels: u64,
    /// Other WebSocket API requests received.
    pub other_requests: u64,
    /// Frame writes the socket did not take whole at once (queued for the next turn).
    pub queued_writes: u64,
    /// How far `CLOCK_REALTIME` moved against `CLOCK_MONOTONIC` over the run, ns. Intervals
    /// are taken on the realtime clock, which NTP slews like the monotonic one; only a step
    /// (an operator setting the clock) would show here, and would make this run's figures
    /// meaningless.
    pub clock_drift_ns: i64,
    /// Whether the server thread ran `SCHED_FIFO` (priority 1), so its wake-ups preempt
    /// ordinary threads at once; `false` when not asked for or without CAP_SYS_NICE.
    pub fifo: bool,
}

impl ServeLog {
    /// One log for the harness's figures over several rounds: samples and counts pooled, the
    /// largest clock drift, `fifo` and `tap` only if every round had them. Events and windows
    /// are left out: each round's are attributed on their own ([`ServeLog::measured`]).
    pub fn merge(rounds: Vec<ServeLog>) -> ServeLog {
        let mut all = ServeLog {
            fifo: !rounds.is_empty(),
            tap: !rounds.is_empty(),
            ..ServeLog::default()
        };
        for r in rounds {
            all.send_late_ns.extend(r.send_late_ns);
            all.write_ns.extend(r.write_ns);
            all.stamp_in_write_ns.extend(r.stamp_in_write_ns);
            all.merged_gap_ns.extend(r.merged_gap_ns);
            all.kernel_sends += r.kernel_sends;
            all.user_sends += r.user_sends;
            all.kernel_stamps += r.kernel_stamps;
            all.user_stamps += r.user_stamps;
            all.coalesced_reads += r.coalesced_reads;
            all.tap_stamped_orders += r.tap_stamped_orders;
            all.read_stamped_orders += r.read_stamped_orders;
            all.tap_orphans += r.tap_orphans;
            all.places += r.places;
            all.cancels += r.cancels;
            all.other_requests += r.other_requests;
            all.queued_writes += r.queued_writes;
            if r.clock_drift_ns.abs() > all.clock_drift_ns.abs() {
                all.clock_drift_ns = r.clock_drift_ns;
            }
            all.fifo &= r.fifo;
            all.tap &= r.tap;
        }
        all
    }

    /// The events of the measured window: from its start, through the first quote sent after
    /// its end (which closes the window's last quote).
    pub fn measured(&self) -> Vec<(u64, WireEvent)> {
        let Some((from, until)) = self.window else {
            return Vec::new();
        };
        let mut out: Vec<_> = self
            .events
            .iter()
            .copied()
            .filter(|(at, _)| *at >= from)
            .take_while(|(at, e)| !(*e == WireEvent::QuoteSent && *at >= until))
            .collect();
        if let Some(&closing) = self
            .events
            .iter()
            .find(|(at, e)| *e == WireEvent::QuoteSent && *at >= until)
        {
            out.push(closing);
        }
        out
    }
}

/// A running harness on a loopback port.
#[derive(Debug)]
pub struct Harness {
    /// Market streams, WebSocket API and REST, plain TCP.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
    server: JoinHandle<ServeLog>,
}

impl Harness {
    /// Binds a free loopback port and starts the acceptor and server threads.
    pub fn start(market: Arc<Market>, settings: HarnessSettings) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        // Opened before any client connects, so it sees every client's SYN.
        let tap = match PacketTap::open(addr.port()) {
            Ok(tap) => Some(tap),
            Err(e) => {
                eprintln!(
                    "tick_to_trade harness: no packet tap on lo ({e}); orders are stamped per \
                     socket read instead"
                );
                None
            }
        };
        let shared = Arc::new(Shared::default());
        let (tx, rx) = mpsc::channel();
        let acceptor = {
            let (market, shared, cpus) = (
                Arc::clone(&market),
                Arc::clone(&shared),
                settings.cpus.clone(),
            );
            std::thread::Builder::new()
                .name("harness-accept".into())
                .spawn(move || {
                    if let Some(cpus) = &cpus {
                        pin_current_thread(cpus).expect("pin the harness acceptor");
                    }
                    accept(&listener, &market, &shared, &tx);
                })?
        };
        let server = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("harness-serve".into())
                .spawn(move || {
                    if let Some(cpus) = &settings.cpus {
                        pin_current_thread(cpus).expect("pin the harness server");
                    }
                    serve(&market, &rx, &shared, &settings, tap)
                })?
        };
        Ok(Self {
            addr,
            shared,
            acceptor,
            server,
        })
    }

    /// Whether the measured window is over.
    pub fn finished(&self) -> bool {
        self.shared.finished.load(Ordering::Acquire)
    }

    /// A flag that turns true once the measured window is over, for clients on other threads.
    pub fn finished_flag(&self) -> impl Fn() -> bool + Send + 'static {
        let shared = Arc::clone(&self.shared);
        move || shared.finished.load(Ordering::Acquire)
    }

    /// Waits until the measured window is over; `false` after `timeout`.
    pub fn wait_finished(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.finished() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Stops both threads and returns what the server saw.
    pub fn stop(self) -> ServeLog {
        self.shared.stop.store(true, Ordering::Release);
        // Wakes the acceptor from `accept`; it sees the stop flag and returns.
        let _ = TcpStream::connect(self.addr);
        let _ = self.acceptor.join();
        self.server.join().expect("harness server thread")
    }
}

/// The CPUs the calling thread may run on, ascending.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: `cpu_set_t` is a plain bit array, for which all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity(2) on the calling thread (pid 0) writes at most
    // `size_of::<cpu_set_t>()` bytes into `set`, which is exactly that large.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let bits = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET reads one bit of `set`; every `cpu` is below the set's size in bits.
    Ok((0..bits)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Pins the calling thread (and the threads it starts afterwards) to `cpus`.
pub fn pin_current_thread(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: `cpu_set_t` is a plain bit array, for which all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET writes one bit of `set`; it checks `cpu` against the set's size.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: sched_setaffinity(2) on the calling thread (pid 0) reads `size_of::<cpu_set_t>()`
    // bytes of `set`, which is exactly that large and lives across the call.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `CLOCK_REALTIME` now, ns since the epoch (the vDSO's `clock_gettime`).
pub fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Turns on the kernel's receive timestamps (`SO_TIMESTAMPNS`) on a socket.
fn enable_rx_timestamps(socket: &TcpStream) -> io::Result<()> {
    crate::packet_tap::set_socket_int(socket.as_raw_fd(), libc::SO_TIMESTAMPNS, 1)
}

/// `SCM_TSTAMP_SND` (`linux/errqueue.h`): the stamp was taken as the device sent the data.
const SCM_TSTAMP_SND: u32 = 0;

/// Turns on the kernel's software transmit timestamps on a socket: each `write` gets the time
/// its last byte is handed to the device (on loopback, `loopback_xmit`, right before the
/// receiver's `netif_rx`), read back from the socket's error queue, keyed by byte offset.
fn enable_tx_timestamps(socket: &TcpStream) -> io::Result<()> {
    let flags = libc::SOF_TIMESTAMPING_TX_SOFTWARE
        | libc::SOF_TIMESTAMPING_SOFTWARE
        | libc::SOF_TIMESTAMPING_OPT_ID
        | libc::SOF_TIMESTAMPING_OPT_TSONLY;
    crate::packet_tap::set_socket_int(
        socket.as_raw_fd(),
        libc::SO_TIMESTAMPING,
        flags as libc::c_int,
    )
}

/// Drains a socket's error queue of transmit timestamps; returns the one with the highest key
/// (the latest `write`'s), `CLOCK_REALTIME` ns.
fn take_tx_stamp(socket: &TcpStream) -> Option<u64> {
    let mut latest: Option<(u32, u64)> = None;
    loop {
        // u64s: the control buffer must be aligned for `cmsghdr`.
        let mut control = [0u64; 32];
        // SAFETY: `msghdr` is plain data, for which all zeroes is valid (no name, no buffers).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: recvmsg(2) of the error queue of a socket this `TcpStream` owns; `msg` points
        // at `control` only (OPT_TSONLY: no payload comes back), alive across the call.
        let n = unsafe {
            libc::recvmsg(
                socket.as_raw_fd(),
                &mut msg,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return latest.map(|(_, stamp)| stamp);
        }
        let (mut stamp, mut key) = (None, None);
        // SAFETY: `msg` was filled by recvmsg(2): CMSG_FIRSTHDR/CMSG_NXTHDR walk the control
        // bytes it wrote, within `msg_controllen`, and return null at the end.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cmsg.is_null() {
            // SAFETY: `cmsg` is non-null and points at a header inside `control`.
            let header = unsafe { &*cmsg };
            // SAFETY: CMSG_DATA points just after this header, inside `control`.
            let data = unsafe { libc::CMSG_DATA(cmsg) };
            match (header.cmsg_level, header.cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_TIMESTAMPING) => {
                    // SAFETY: SCM_TIMESTAMPING carries `struct scm_timestamping`, three
                    // `timespec`s (software stamp first), possibly unaligned.
                    let ts: [libc::timespec; 3] = unsafe { std::ptr::read_unaligned(data.cast()) };
                    stamp = Some(ts[0].tv_sec as u64 * 1_000_000_000 + ts[0].tv_nsec as u64);
                }
                (libc::SOL_IP, libc::IP_RECVERR) | (libc::SOL_IPV6, libc::IPV6_RECVERR) => {
                    // SAFETY: IP_RECVERR carries a `sock_extended_err`, possibly unaligned.
                    let err: libc::sock_extended_err =
                        unsafe { std::ptr::read_unaligned(data.cast()) };
                    if err.ee_origin == libc::SO_EE_ORIGIN_TIMESTAMPING
                        && err.ee_info == SCM_TSTAMP_SND
                    {
                        key = Some(err.ee_data);
                    }
                }
                _ => {}
            }
            // SAFETY: as for CMSG_FIRSTHDR: `cmsg` is a header of this message.
            cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
        }
        if let (Some(key), Some(stamp)) = (key, stamp) {
            if latest.is_none_or(|(k, _)| key.wrapping_sub(k) < u32::MAX / 2) {
                latest = Some((key, stamp));
            }
        }
    }
}

/// A non-blocking `recvmsg` into `buf`: the bytes read, and with `SO_TIMESTAMPNS` on, the
/// kernel's receive time of the last segment the read consumed. On loopback that time is taken
/// while the sender's `write` hands the segment over (`netif_rx`), so it does not depend on
/// when this thread gets to run.
fn recv_stamped(socket: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
    crate::packet_tap::recv_stamped(socket.as_raw_fd(), buf, libc::MSG_DONTWAIT)
}

/// Sleeps until a session's socket is readable (or writable, while it has bytes queued), or
/// for `timeout`.
fn wait_for_sessions(sessions: &[Session], fds: &mut Vec<libc::pollfd>, timeout: Duration) {
    fds.clear();
    fds.extend(sessions.iter().map(|s| libc::pollfd {
        fd: s.socket.as_raw_fd(),
        events: libc::POLLIN
            | if s.outbox.is_empty() {
                0
            } else {
                libc::POLLOUT
            },
        revents: 0,
    }));
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: ppoll(2) over `fds.len()` pollfds in `fds`, alive and exclusively borrowed
    // across the call, with a timeout that outlives it and no signal mask. Its result (ready
    // count, or EINTR) is not needed: the caller reads every socket after it returns.
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
}

/// The server thread's loop.
///
/// It runs `SCHED_FIFO` when asked and allowed (it mostly sleeps, and an ordinary thread woken
/// on a core busy with other work waits tens of microseconds, up to milliseconds, to run). Each
/// turn it writes the frames that are due, reads the sockets and answers what came, then sleeps
/// (`ppoll`, 1 ns timer slack) until [`SPIN_BEFORE_DUE`] before the next frame or until a
/// socket is readable, and spins the rest of the way. Right after a quote it spins on
/// non-blocking reads instead, for up to [`SPIN_AFTER_QUOTE`], until the first order arrives:
/// measured on the 2-core VM, a server that goes to sleep right after the quote makes every
/// client, the floor included, 5-10 µs slower at the median (its CPU goes idle while the
/// client works; the samples themselves are kernel stamps and do not include the server).
///
/// Orders are stamped by the [`PacketTap`] when it runs: per segment, however late the server
/// reads them. Without it they are stamped with the socket's receive time, which is per read:
/// the kernel merges segments queued on a socket and keeps the latest time, so a client's
/// second order landing before the first is read stands in for the first. The spin does not
/// prevent that: the server's own `write` of the quote runs the loopback's receive path for
/// several microseconds, long enough for a fast client to send two orders (`coalesced_reads`
/// counts those reads; `merged_gap_ns` how much later the last order of such a read was sent).
fn serve(
    market: &Market,
    sessions_rx: &mpsc::Receiver<Session>,
    shared: &Shared,
    settings: &HarnessSettings,
    tap: Option<PacketTap>,
) -> ServeLog {
    // SAFETY: prctl(PR_SET_TIMERSLACK) changes only the calling thread's timer slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: sched_setscheduler(2) on the calling thread (pid 0), reading `param`, which lives
    // across the call. This thread sleeps between frames and spins at most SPIN_BEFORE_DUE per
    // frame and SPIN_AFTER_QUOTE per quote, far under the kernel's RT throttle.
    let fifo =
        settings.fifo && unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0;
    let (mono0, real0) = (Instant::now(), realtime_ns());
    let mut server = Server {
        market,
        settings,
        shared,
        log: ServeLog {
            events: Vec::with_capacity(market.frames.len() * 4 + 1024),
            send_late_ns: Vec::with_capacity(market.frames.len()),
            write_ns: Vec::with_capacity(market.frames.len()),
            stamp_in_write_ns: Vec::with_capacity(market.frames.len()),
            fifo,
            tap: tap.is_some(),
            ..ServeLog::default()
        },
        tap,
        desk: OrderDesk::new(market),
        sessions: Vec::new(),
        messages: Vec::new(),
        replies: Vec::new(),
        start: None,
        next: 0,
        spin_until: None,
    };
    let mut fds = Vec::new();
    while !shared.stop.load(Ordering::Acquire) {
        server.admit(sessions_rx);
        server.send_due_frames();
        let first_order = server.read_sessions();
        server.flush_and_prune();

        let now = Instant::now();
        if first_order || server.spin_until.is_some_and(|until| now >= until) {
            server.spin_until = None;
        }
        let wake = server
            .start
            .and_then(|t0| market.frames.get(server.next).map(|f| t0 + f.at))
            .map_or(now + IDLE_WAKE, |due| {
                due.checked_sub(SPIN_BEFORE_DUE)
                    .unwrap_or(due)
                    .min(now + IDLE_WAKE)
            });
        if server.spin_until.is_none() && wake > now {
            wait_for_sessions(&server.sessions, &mut fds, wake - now);
        }
    }
    let (mono, real) = (mono0.elapsed(), realtime_ns() - real0);
    let mut log = server.log;
    log.clock_drift_ns = real as i64 - mono.as_nanos() as i64;
    log.tap_orphans = server.tap.map_or(0, |t| t.orphans);
    log
}

/// The server thread's state between turns of [`serve`].
struct Server<'a> {
    market: &'a Market,
    settings: &'a HarnessSettings,
    shared: &'a Shared,
    log: ServeLog,
    tap: Option<PacketTap>,
    desk: OrderDesk,
    sessions: Vec<Session>,
    /// Messages of one read: (opcode, payload, stream offset of the last byte).
    messages: Vec<(u8, Vec<u8>, u64)>,
    /// Answers to send: (session id, text).
    replies: Vec<(u64, String)>,
    /// When the market stream started (the first market session's arrival).
    start: Option<Instant>,
    /// The next frame of the recording to send.
    next: usize,
    /// While `Some`: spinning for the first order after a quote, until then.
    spin_until: Option<Instant>,
}

impl Server<'_> {
    /// Takes the sessions the acceptor handed over; the first market session starts the
    /// stream and opens the measured window after the warm-up.
    fn admit(&mut self, sessions_rx: &mpsc::Receiver<Session>) {
        while let Ok(session) = sessions_rx.try_recv() {
            if self.start.is_none() && matches!(session.role, Role::Market { .. }) {
                self.start = Some(Instant::now());
                let from = realtime_ns() + self.settings.warmup.as_nanos() as u64;
                self.log.window = Some((from, from + self.settings.measure.as_nanos() as u64));
            }
            self.sessions.push(session);
        }
    }

    /// Writes every frame that is due to the sessions subscribed to its stream, stamping
    /// bookTickers; flags the run finished once the window is over.
    fn send_due_frames(&mut self) {
        let Some(t0) = self.start else {
            return;
        };
        let log = &mut self.log;
        let now = Instant::now();
        let in_window = log
            .window
            .is_some_and(|(from, until)| (from..until).contains(&realtime_ns()));
        while let Some(frame) = self.market.frames.get(self.next) {
            let due = t0 + frame.at;
            if due > now {
                break;
            }
            let mut subscribed = false;
            let mut kernel_sent = None;
            let started = Instant::now();
            let before = realtime_ns();
            for s in self.sessions.iter_mut().filter(|s| s.wants(frame.stream)) {
                subscribed = true;
                if !s.send(&frame.bytes) {
                    log.queued_writes += 1;
                }
                kernel_sent = take_tx_stamp(&s.socket).or(kernel_sent);
            }
            let written = realtime_ns();
            match frame.stream {
                Stream::BookTicker if subscribed => {
                    let sent = match kernel_sent {
                        Some(kernel) => {
                            log.kernel_sends += 1;
                            kernel
                        }
                        None => {
                            log.user_sends += 1;
                            written
                        }
                    };
                    log.events.push((sent, WireEvent::QuoteSent));
                    self.spin_until = Some(Instant::now() + SPIN_AFTER_QUOTE);
                    if in_window {
                        log.send_late_ns
                            .push(started.duration_since(due).as_nanos() as u64);
                        log.write_ns.push(written - before);
                        log.stamp_in_write_ns.push(sent.saturating_sub(before));
                    }
                }
                Stream::Depth => {
                    self.shared.depth_sent.fetch_add(1, Ordering::AcqRel);
                }
                _ => {}
            }
            self.next += 1;
        }
        if let Some((_, until)) = log.window {
            if realtime_ns() >= until && !self.shared.finished.load(Ordering::Relaxed) {
                self.shared.finished.store(true, Ordering::Release);
            }
        }
    }

    /// Reads the sessions and answers what came: order-entry requests are stamped (by the tap,
    /// else by their read) and answered by the order desk, pings ponged, closes closed. While
    /// spinning after a quote only order-entry sockets are read (market sockets carry only
    /// pings and closes, which wait for the next sleeping turn). Returns whether an order came.
    fn read_sessions(&mut self) -> bool {
        let spinning = self.spin_until.is_some();
        let mut first_order = false;
        for i in 0..self.sessions.len() {
            let s = &mut self.sessions[i];
            if spinning && s.role != Role::OrderEntry {
                continue;
            }
            if s.role != Role::OrderEntry {
                // Transmit stamps of frames sent late (queued) would keep ppoll awake (POLLERR).
                let _ = take_tx_stamp(&s.socket);
            }
            let Some(stamp) = s.read(&mut self.log) else {
                continue;
            };
            s.take_messages(&mut self.messages);
            let (id, role, port) = (s.id, s.role, s.client_port);
            if role == Role::OrderEntry {
                if let Some(tap) = self.tap.as_mut() {
                    tap.drain();
                }
            }
            let mut orders_in_read = 0;
            let mut first_sent: Option<u64> = None;
            let mut merged_gap: Option<u64> = None;
            for (opcode, payload, last_byte) in self.messages.drain(..) {
                match opcode {
                    OP_TEXT if role == Role::OrderEntry => {
                        let text = String::from_utf8_lossy(&payload);
                        let log = &mut self.log;
                        if text.contains("\"order.") {
                            let sent = self.tap.as_mut().and_then(|t| t.sent_at(port, last_byte));
                            if sent.is_some() {
                                log.tap_stamped_orders += 1;
                            } else {
                                log.read_stamped_orders += 1;
                            }
                            log.events
                                .push((sent.unwrap_or(stamp), WireEvent::OrderReceived));
                            match (first_sent, sent) {
                                (None, _) => first_sent = sent,
                                (Some(first), Some(later)) => {
                                    merged_gap = Some(later.saturating_sub(first));
                                }
                                _ => {}
                            }
                            orders_in_read += 1;
                            first_order = true;
                        }
                        if text.contains("\"order.place\"") {
                            log.places += 1;
                        } else if text.contains("\"order.cancel\"") {
                            log.cancels += 1;
                        } else {
                            log.other_requests += 1;
                        }
                        self.desk.answer(id, &text, &mut self.replies);
                    }
                    OP_PING => replies_frame(&mut self.sessions[i], OP_PONG, &payload),
                    OP_CLOSE => {
                        replies_frame(&mut self.sessions[i], OP_CLOSE, &payload);
                        self.sessions[i].closed = true;
                    }
                    _ => {}
                }
            }
            self.log.coalesced_reads += u64::from(orders_in_read > 1);
            if let Some(gap) = merged_gap.take() {
                self.log.merged_gap_ns.push(gap);
            }
            for (to, text) in self.replies.drain(..) {
                if let Some(s) = self.sessions.iter_mut().find(|s| s.id == to) {
                    s.send(&server_frame(OP_TEXT, text.as_bytes()));
                }
            }
        }
        first_order
    }

    /// Writes what the sessions have queued and forgets closed sessions (and their user-data
    /// subscriptions).
    fn flush_and_prune(&mut self) {
        for s in self.sessions.iter_mut().filter(|s| !s.outbox.is_empty()) {
            s.flush();
        }
        if self.sessions.iter().any(|s| s.closed) {
            self.sessions.retain(|s| !s.closed);
            let open: Vec<u64> = self.sessions.iter().map(|s| s.id).collect();
            for subscribers in self.desk.users.values_mut() {
                subscribers.retain(|id| open.contains(id));
            }
        }
    }
}

/// Answers a control frame (pong to a ping, close to a close).
fn replies_frame(session: &mut Session, opcode: u8, payload: &[u8]) {
    session.send(&server_frame(opcode, payload));
}

/// The acceptor thread's loop: one connection at a time, until stopped.
fn accept(
    listener: &TcpListener,
    market: &Market,
    shared: &Shared,
    sessions: &mpsc::Sender<Session>,
) {
    let mut next_id = 0;
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let Ok(socket) = conn else { continue };
        next_id += 1;
        match admit(socket, next_id, market, shared) {
            Ok(Some(session)) => {
                if sessions.send(session).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => eprintln!("tick_to_trade harness: connection {next_id}: {e}"),
        }
    }
}

/// A request head: path and query, and the WebSocket key if it asks for an upgrade.
#[derive(Debug)]
struct RequestHead {
    path: String,
    query: HashMap<String, String>,
    websocket_key: Option<String>,
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl RequestHead {
    fn parse(head: &str) -> io::Result<Self> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        let mut lines = head.split("\r\n");
        let target = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .ok_or_else(|| bad("request line"))?;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        let websocket_key = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
            .map(|(_, v)| v.trim().to_string());
        Ok(Self {
            path: path.to_string(),
            query,
            websocket_key,
        })
    }
}

/// Reads up to the end of a request or response head; returns the head, its length in bytes
/// and any bytes after it.
fn read_head(mut socket: &TcpStream) -> io::Result<(String, usize, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = socket.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), buf.len(), rest));
        }
        if buf.len() > 16 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head over 16 KiB",
            ));
        }
    }
}

fn respond(mut socket: &TcpStream, status: &str, body: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes())
}

/// Serves one connection's request: a REST snapshot (answered here), or a WebSocket upgrade
/// (returned as a session for the server thread).
fn admit(
    socket: TcpStream,
    id: u64,
    market: &Market,
    shared: &Shared,
) -> io::Result<Option<Session>> {
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    let (head, head_len, rest) = read_head(&socket)?;
    let request = RequestHead::parse(&head)?;
    let role = match request.path.as_str() {
        "/api/v3/depth" => {
            if request.query.get("symbol") != Some(&market.symbol.name) {
                let body = json!({ "code": -1121, "msg": "Invalid symbol." }).to_string();
                respond(&socket, "400 Bad Request", &body)?;
                return Ok(None);
            }
            let limit = request
                .query
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .filter(|n| (1..=5000).contains(n))
                .unwrap_or(100);
            let index = shared.depth_sent.load(Ordering::Acquire);
            let s = &market.snapshots[index.min(market.snapshots.len() - 1)];
            let levels = |l: &Levels| l.iter().take(limit).copied().collect::<Levels>();
            let body = market
                .symbol
                .depth_snapshot(s.update_id, &levels(&s.bids), &levels(&s.asks))
                .to_string();
            respond(&socket, "200 OK", &body)?;
            return Ok(None);
        }
        "/stream" => {
            let names = request.query.get("streams").cloned().unwrap_or_default();
            let prefix = market.symbol.stream_prefix();
            let mut streams = 0;
            for name in names.split('/') {
                let Some(stream) = Stream::ALL
                    .into_iter()
                    .find(|s| name == format!("{prefix}{}", s.suffix()))
                else {
                    let body = format!("invalid stream name {name:?}");
                    respond(&socket, "400 Bad Request", &body)?;
                    return Ok(None);
                };
                streams |= stream.bit();
            }
            Role::Market { streams }
        }
        "/ws-api/v3" => Role::OrderEntry,
        other => {
            eprintln!("tick_to_trade harness: no route for {other}");
            respond(&socket, "404 Not Found", "{}")?;
            return Ok(None);
        }
    };
    let Some(key) = request.websocket_key else {
        respond(
            &socket,
            "400 Bad Request",
            "{\"error\":\"not a WebSocket upgrade\"}",
        )?;
        return Ok(None);
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    (&socket).write_all(response.as_bytes())?;
    socket.set_read_timeout(None)?;
    socket.set_nonblocking(true)?;
    match role {
        Role::OrderEntry => enable_rx_timestamps(&socket)?,
        Role::Market { .. } => enable_tx_timestamps(&socket)?,
    }
    let client_port = socket.peer_addr()?.port();
    Ok(Some(Session {
        id,
        socket,
        role,
        client_port,
        consumed: head_len as u64,
        inbox: rest,
        message: Vec::new(),
        outbox: Vec::new(),
        closed: false,
    }))
}

/// Opens a WebSocket client connection to `path` on `addr` by hand (a fixed key, no
/// extensions) and returns the socket, blocking, with `TCP_NODELAY`, and any bytes that came
/// after the handshake response.
pub fn connect_raw(addr: SocketAddr, path: &str) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut socket = TcpStream::connect(addr)?;
    socket.set_nodelay(true)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    socket.write_all(request.as_bytes())?;
    let (head, _, rest) = read_head(&socket)?;
    if !head.starts_with("HTTP/1.1 101") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "upgrade of {path} refused: {}",
                head.lines().next().unwrap_or("")
            ),
        ));
    }
    Ok((socket, rest))
}
