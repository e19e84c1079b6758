//! A WebSocket client connection driven by the feed thread's `mio` poll: plain TCP or TLS
//! (rustls, webpki roots plus an optional extra CA file), with a timeout on every step, ping
//! and close handling, bounded frame and message sizes, reconnection with exponential backoff
//! and jitter, and the subscription messages re-sent on every connection.
//!
//! # Driving
//!
//! The owner registers nothing itself: [`WsConnection::drive`] registers each new socket with
//! the given registry under the connection's token, and the owner passes every event for that
//! token to [`WsConnection::on_event`]. `drive` is called on every loop turn; it never blocks
//! except for the name lookup at (re)connect time (a `getaddrinfo`, on the feed thread only).
//! Socket errors never propagate as panics: the connection goes back to backoff and reports
//! why through [`WsEvent::Disconnected`].
//!
//! # Messages, without allocation
//!
//! The upgrade handshake is written here (tungstenite only supplies the key and its expected
//! answer); after it, frames are read and written by [`crate::ws_frame`] in buffers allocated
//! once per connection object and reused by every reconnect. A final text or binary frame is
//! handed to the caller as a mutable slice of the receive buffer itself (decoders that parse
//! in place use it directly, no copy); a fragmented message is assembled in a second buffer.
//! Text must be UTF-8. Sends are framed and masked into the send buffer. So, over plain TCP,
//! neither direction allocates per message; over TLS, rustls's buffered API still allocates
//! one buffer per TLS record received or sent.

use crate::ws_frame::{parse_header, write_client_frame, FrameError, Opcode};
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a connection could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum WsConfigError {
    /// The URL is not `ws://host:port/path` or `wss://host:port/path`.
    #[error("bad WebSocket URL {url:?}: {why}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The CA file cannot be read or holds no certificate.
    #[error("CA file {path}: {why}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// `ws://` or `wss://` URL.
    pub url: String,
    /// Extra CA certificate(s) to trust, PEM (e.g. the local venue's).
    pub ca_file: Option<PathBuf>,
    /// Messages sent after every successful connect.
    pub subscriptions: Vec<String>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// TLS + WebSocket handshake timeout.
    pub handshake_timeout: Duration,
    /// With no frame received for this long, the connection is considered dead. Every frame
    /// counts (a pong too), so a quiet but healthy connection is pinged every `ping_after` and
    /// lives on; a half-open one, or one dripping a frame slower than this, is closed.
    pub idle_timeout: Duration,
    /// A ping is sent after this long without receiving anything.
    pub ping_after: Duration,
    /// Largest message accepted.
    pub max_message: usize,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
}

impl WsSettings {
    /// Settings with the defaults for a market-data stream.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            ca_file: None,
            subscriptions: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            ping_after: Duration::from_secs(10),
            max_message: 1 << 20,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// What [`WsConnection::drive`] reports.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEvent {
    /// Connected and subscriptions sent.
    Connected,
    /// The connection ended, or could not be made; it will be retried after a backoff.
    Disconnected {
        /// Why, by kind.
        cause: Cause,
        /// The particulars (the OS error, the server's close code and reason).
        detail: String,
    },
}

/// Why a connection ended, by kind: each has a static description, so a logger that does not
/// format on its thread can still say why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The name did not resolve, or the TCP connect or TLS setup failed (refused, unreachable).
    Connect,
    /// The TCP connect took longer than `connect_timeout`.
    ConnectTimeout,
    /// The TLS or WebSocket handshake failed.
    Handshake,
    /// The handshake took longer than `handshake_timeout`.
    HandshakeTimeout,
    /// The server closed the connection.
    ClosedByServer,
    /// Nothing was received, not even the answer to a ping, for `idle_timeout`.
    Dead,
    /// A frame or message larger than `max_message` was announced.
    Oversize,
    /// The server broke the WebSocket protocol.
    Protocol,
    /// The TLS stream ended without `close_notify`: cut short, possibly inside a record (a
    /// truncation the peer did not sign off).
    Truncated,
    /// A TLS record was refused: it failed to decrypt or broke the TLS protocol (corrupted or
    /// forged in transit).
    TlsRecord,
    /// Reading failed (a reset, most often).
    Read,
    /// Writing failed.
    Write,
}

impl Cause {
    /// What happened, in words (a log line's text).
    pub const fn describe(self) -> &'static str {
        match self {
            Cause::Connect => {
                "cannot connect (name, TCP or TLS set-up); retrying (reconnects so far {})"
            }
            Cause::ConnectTimeout => "connect timed out; retrying (reconnects so far {})",
            Cause::Handshake => {
                "TLS or WebSocket handshake failed; retrying (reconnects so far {})"
            }
            Cause::HandshakeTimeout => "handshake timed out; retrying (reconnects so far {})",
            Cause::ClosedByServer => "closed by the server; reconnecting (reconnects so far {})",
            Cause::Dead => {
                "connection dead: nothing received, not even a pong; reconnecting (reconnects so \
                 far {})"
            }
            Cause::Oversize => {
                "the server announced a frame or message over the size limit; reconnecting \
                 (reconnects so far {})"
            }
            Cause::Protocol => {
                "the server broke the WebSocket protocol; reconnecting (reconnects so far {})"
            }
            Cause::Truncated => {
                "the server's TLS stream ended without close_notify (truncated); reconnecting \
                 (reconnects so far {})"
            }
            Cause::TlsRecord => {
                "a TLS record failed to decrypt or broke the protocol (corrupted in transit?); \
                 reconnecting (reconnects so far {})"
            }
            Cause::Read => "read failed (connection reset?); reconnecting (reconnects so far {})",
            Cause::Write => "write failed; reconnecting (reconnects so far {})",
        }
    }
}

/// The stream's end, read as such (for plain TCP a FIN, for TLS after `close_notify`): the
/// server closed the connection, if without a WebSocket close frame.
#[derive(Debug)]
struct StreamEnded;

impl std::fmt::Display for StreamEnded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server ended the connection without a close frame")
    }
}

impl std::error::Error for StreamEnded {}

/// Why a read failed, by kind. Only the TLS layer reports an end of the stream other than
/// [`StreamEnded`] (one without `close_notify`) and invalid data (a record it refused).
fn read_cause(e: &io::Error) -> Cause {
    match e.kind() {
        io::ErrorKind::UnexpectedEof if e.get_ref().is_some_and(|e| e.is::<StreamEnded>()) => {
            Cause::ClosedByServer
        }
        io::ErrorKind::UnexpectedEof => Cause::Truncated,
        io::ErrorKind::InvalidData => Cause::TlsRecord,
        _ => Cause::Read,
    }
}

enum Stream {
    Plain(mio::net::TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, mio::net::TcpStream>>),
}

impl Stream {
    fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Plain(s) => s.as_raw_fd(),
            Stream::Tls(s) => s.sock.as_raw_fd(),
        }
    }

    fn tcp(&mut self) -> &mut mio::net::TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &mut s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Bytes a frame header takes at most.
const MAX_HEADER: usize = 14;
/// Room kept free at the end of the receive buffer for one read.
const READ_ROOM: usize = 16 * 1024;
/// Capacity of the send buffer: orders, cancels, pings and pongs queued while the socket is
/// full. A venue that leaves this much unread is treated as gone.
const SEND_CAPACITY: usize = 256 * 1024;
/// Largest HTTP answer to the upgrade request.
const MAX_HANDSHAKE: usize = 8 * 1024;

enum State {
    Backoff {
        until: Instant,
    },
    Connecting {
        stream: Stream,
        deadline: Instant,
    },
    Handshaking {
        stream: Stream,
        deadline: Instant,
        /// The `Sec-WebSocket-Accept` the server must answer.
        accept: String,
    },
    Open {
        stream: Stream,
        last_rx: Instant,
        pinged: bool,
        /// The opcode of a fragmented message being assembled in `message`.
        fragment: Option<Opcode>,
    },
}

/// A buffer of `len` bytes (of no meaning: each is written before it is read) with room for
/// `capacity`, every byte of which has been written once: its pages are mapped before the
/// connection's first read or write lands in them, so the hot thread takes no page fault the
/// first time a message runs further into a buffer.
fn written(len: usize, capacity: usize) -> Vec<u8> {
    // Not zeroes: `vec![0; n]` is calloc, whose fresh pages stay unmapped until written.
    let mut buffer = vec![0xA5; capacity];
    std::hint::black_box(&mut buffer);
    buffer.truncate(len);
    buffer
}

/// The connection's buffers, allocated once and reused by every connection: nothing is
/// allocated per message in either direction.
struct Buffers {
    /// Received bytes; frames are parsed in place from `rx[rx_start..rx_end]`.
    rx: Vec<u8>,
    rx_start: usize,
    rx_end: usize,
    /// Frames to send; `tx[tx_sent..]` is not written yet.
    tx: Vec<u8>,
    tx_sent: usize,
    /// Fragments of a message being assembled.
    message: Vec<u8>,
}

impl Buffers {
    fn new(max_message: usize) -> Self {
        Self {
            rx: written(
                max_message + MAX_HEADER + READ_ROOM,
                max_message + MAX_HEADER + READ_ROOM,
            ),
            rx_start: 0,
            rx_end: 0,
            tx: written(0, SEND_CAPACITY),
            tx_sent: 0,
            message: written(0, max_message),
        }
    }

    fn reset(&mut self) {
        self.rx_start = 0;
        self.rx_end = 0;
        self.tx.clear();
        self.tx_sent = 0;
        self.message.clear();
    }

    /// Moves unparsed bytes to the front when the room for the next read runs short.
    fn compact_rx(&mut self) {
        if self.rx_start == self.rx_end {
            self.rx_start = 0;
            self.rx_end = 0;
        } else if self.rx.len() - self.rx_end < READ_ROOM && self.rx_start > 0 {
            self.rx.copy_within(self.rx_start..self.rx_end, 0);
            self.rx_end -= self.rx_start;
            self.rx_start = 0;
        }
    }

    /// Queues one masked frame; `Err` when the send buffer is full.
    fn queue(&mut self, opcode: Opcode, payload: &[u8], mask: [u8; 4]) -> Result<(), FrameError> {
        if self.tx_sent > 0 && self.tx.capacity() - self.tx.len() < payload.len() + MAX_HEADER {
            self.tx.copy_within(self.tx_sent.., 0);
            self.tx.truncate(self.tx.len() - self.tx_sent);
            self.tx_sent = 0;
        }
        write_client_frame(&mut self.tx, opcode, payload, mask)
    }

    /// Writes queued bytes until done or the socket is full, then flushes TLS. After an error
    /// the connection is failed before anything queued can go out ([`WsConnection::flush`],
    /// [`WsConnection::drive`]).
    fn flush(&mut self, stream: &mut Stream) -> io::Result<()> {
        while self.tx_sent < self.tx.len() {
            match stream.write(&self.tx[self.tx_sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.tx_sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.tx_sent == self.tx.len() {
            self.tx.clear();
            self.tx_sent = 0;
        }
        match stream.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(()),
        }
    }

    /// Reads what is available into `rx`: `Ok(true)` if bytes came, `Ok(false)` if none.
    fn read(&mut self, stream: &mut Stream) -> io::Result<bool> {
        self.compact_rx();
        match stream.read(&mut self.rx[self.rx_end..]) {
            Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, StreamEnded)),
            Ok(n) => {
                self.rx_end += n;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Where a URL points: TLS or not, host, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `wss://` or `https://`.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// Parses `ws://`, `wss://`, `http://` or `https://` URLs into an [`Endpoint`].
///
/// # Errors
///
/// [`WsConfigError::Url`] naming what is wrong.
pub fn parse_url(url: &str) -> Result<Endpoint, WsConfigError> {
    let bad = |why| WsConfigError::Url {
        url: url.to_string(),
        why,
    };
    let (tls, rest) = if let Some(r) = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("https://"))
    {
        (true, r)
    } else if let Some(r) = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("http://"))
    {
        (false, r)
    } else {
        return Err(bad("scheme must be ws://, wss://, http:// or https://"));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad("port is not a number"))?),
        None => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(Endpoint {
        tls,
        host: host.to_string(),
        port,
    })
}

/// A TLS client configuration trusting the webpki roots plus the certificates in `ca_file`.
///
/// # Errors
///
/// [`WsConfigError::CaFile`] when the file cannot be read or holds no certificate.
pub fn tls_config(ca_file: Option<&PathBuf>) -> Result<Arc<rustls::ClientConfig>, WsConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let ca_err = |why: String| WsConfigError::CaFile {
            path: path.clone(),
            why,
        };
        let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| ca_err(e.to_string()))?;
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ca_err("no PEM certificate in it".into()));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| WsConfigError::CaFile {
        path: PathBuf::new(),
        why: e.to_string(),
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// One WebSocket connection with reconnects.
pub struct WsConnection {
    settings: WsSettings,
    target: Endpoint,
    /// Path and query of the URL (`/` when empty), for the upgrade request.
    resource: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: mio::Token,
    state: State,
    backoff: Duration,
    rng: u64,
    reconnects: u64,
    buffers: Buffers,
    /// A write of [`WsConnection::flush`] failed: the next drive ends the connection.
    write_failed: Option<String>,
}

impl std::fmt::Debug for WsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConnection")
            .field("url", &self.settings.url)
            .field("reconnects", &self.reconnects)
            .finish_non_exhaustive()
    }
}

impl WsConnection {
    /// A connection that will connect on the first [`WsConnection::drive`]. Its buffers (about
    /// twice `max_message`, plus the send buffer) are allocated here, once.
    ///
    /// # Errors
    ///
    /// [`WsConfigError`] for a bad URL or CA file.
    pub fn new(settings: WsSettings, token: mio::Token) -> Result<Self, WsConfigError> {
        let target = parse_url(&settings.url)?;
        let tls = if target.tls {
            Some(tls_config(settings.ca_file.as_ref())?)
        } else {
            None
        };
        let after_scheme = settings.url.split_once("://").map_or("", |(_, r)| r);
        let resource = match after_scheme.find(['/', '?']) {
            Some(at) if after_scheme[at..].starts_with('/') => after_scheme[at..].to_string(),
            Some(at) => format!("/{}", &after_scheme[at..]),
            None => "/".to_string(),
        };
        Ok(Self {
            backoff: settings.backoff_min,
            buffers: Buffers::new(settings.max_message),
            settings,
            target,
            resource,
            tls,
            token,
            state: State::Backoff {
                until: Instant::now(),
            },
            rng: random_seed(),
            reconnects: 0,
            write_failed: None,
        })
    }

    /// Connections lost and retried.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Whether the connection is open.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// The socket's descriptor while there is one (connecting, handshaking or open): an owner
    /// that waits for readability itself (`ppoll`) rather than through the registry uses it.
    pub fn socket_fd(&self) -> Option<std::os::fd::RawFd> {
        match &self.state {
            State::Backoff { .. } => None,
            State::Connecting { stream, .. }
            | State::Handshaking { stream, .. }
            | State::Open { stream, .. } => Some(stream.raw_fd()),
        }
    }

    /// The token this connection's socket is registered under.
    pub fn token(&self) -> mio::Token {
        self.token
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn jitter(&mut self, d: Duration) -> Duration {
        // Full jitter between half and all of the delay.
        let half = d / 2;
        half + Duration::from_nanos(self.next_random() % (half.as_nanos() as u64 + 1))
    }

    /// A frame mask. RFC 6455 masks client frames so that a proxy cannot be fed a crafted
    /// byte sequence; the keys come from a generator seeded from the OS's randomness, and a
    /// venue connection is TLS end to end, so no intermediary sees the masked bytes anyway.
    fn mask(&mut self) -> [u8; 4] {
        (self.next_random() as u32).to_ne_bytes()
    }

    fn fail(
        &mut self,
        registry: &mio::Registry,
        now: Instant,
        cause: Cause,
        detail: String,
    ) -> WsEvent {
        self.write_failed = None;
        let mut old = std::mem::replace(&mut self.state, State::Backoff { until: now });
        let stream = match &mut old {
            State::Connecting { stream, .. }
            | State::Handshaking { stream, .. }
            | State::Open { stream, .. } => Some(stream),
            State::Backoff { .. } => None,
        };
        if let Some(s) = stream {
            let _ = registry.deregister(s.tcp());
        }
        drop(old);
        self.buffers.reset();
        let delay = self.jitter(self.backoff);
        self.backoff = (self.backoff * 2).min(self.settings.backoff_max);
        self.state = State::Backoff { until: now + delay };
        self.reconnects += 1;
        WsEvent::Disconnected { cause, detail }
    }

    fn start_connect(&mut self, registry: &mio::Registry, now: Instant) -> Result<(), String> {
        let addr: SocketAddr = (self.target.host.as_str(), self.target.port)
            .to_socket_addrs()
            .map_err(|e| format!("resolve {}: {e}", self.target.host))?
            .next()
            .ok_or_else(|| format!("resolve {}: no address", self.target.host))?;
        let mut tcp =
            mio::net::TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        registry
            .register(
                &mut tcp,
                self.token,
                mio::Interest::READABLE | mio::Interest::WRITABLE,
            )
            .map_err(|e| format!("register: {e}"))?;
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some(config) => {
                let name = ServerName::try_from(self.target.host.clone())
                    .map_err(|e| format!("server name: {e}"))?;
                let conn = rustls::ClientConnection::new(Arc::clone(config), name)
                    .map_err(|e| format!("TLS: {e}"))?;
                Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
            }
        };
        self.buffers.reset();
        self.state = State::Connecting {
            stream,
            deadline: now + self.settings.connect_timeout,
        };
        Ok(())
    }

    /// Sends a text message on the open connection: [`WsConnection::queue_text`], then
    /// [`WsConnection::flush`].
    ///
    /// # Errors
    ///
    /// As those two.
    pub fn send_text(&mut self, text: &[u8]) -> Result<(), String> {
        self.queue_text(text)?;
        self.flush()
    }

    /// Frames and masks a text message into the send buffer (no allocation), behind what is
    /// already there; nothing is written until [`WsConnection::flush`] (or the next
    /// [`WsConnection::drive`]). Messages queued together leave in one write.
    ///
    /// # Errors
    ///
    /// When the connection is not open, or the send buffer is full (the venue is not reading).
    pub fn queue_text(&mut self, text: &[u8]) -> Result<(), String> {
        let mask = self.mask();
        if !matches!(self.state, State::Open { .. }) {
            return Err("not connected".into());
        }
        self.buffers
            .queue(Opcode::Text, text, mask)
            .map_err(|e| format!("send: {e}"))
    }

    /// Writes the send buffer as far as the socket takes it; the rest goes out on the next
    /// [`WsConnection::drive`].
    ///
    /// # Errors
    ///
    /// When the connection is not open, or the write failed: what was queued is dropped and
    /// the next drive ends the connection (it reconnects).
    pub fn flush(&mut self) -> Result<(), String> {
        let State::Open { stream, .. } = &mut self.state else {
            return Err("not connected".into());
        };
        self.buffers.flush(stream).map_err(|e| {
            let why = format!("send: {e}");
            self.write_failed = Some(why.clone());
            why
        })
    }

    /// Frames `text` into the send buffer as [`WsConnection::send_text`] would and takes it out
    /// again, unsent: keeps the framing code and the buffer in the core's caches on a
    /// busy-spinning thread's idle turns. Does nothing while bytes wait to be written.
    pub fn warm_frame(&mut self, text: &[u8]) {
        if !self.buffers.tx.is_empty() {
            return;
        }
        let _ = self.buffers.queue(Opcode::Text, text, [0; 4]);
        std::hint::black_box(&self.buffers.tx);
        self.buffers.tx.clear();
    }

    /// Readiness for this connection's token: nothing to do, `drive` tries its socket on every
    /// call.
    pub fn on_event(&mut self, _event: &mio::event::Event) {}

    /// Advances the connection: connects, handshakes, reads messages into `on_message`, pings,
    /// enforces timeouts. Returns a connection event, if one happened.
    ///
    /// Reading stops after the first read that completed a message (every message that read
    /// completed is delivered) or at a read that would block. So a call that delivered
    /// something may have left bytes in the socket: call again before waiting on readiness,
    /// or wait with a timeout (an edge-triggered poll reports only data that arrives later).
    pub fn drive(
        &mut self,
        registry: &mio::Registry,
        now: Instant,
        on_message: &mut dyn FnMut(&mut [u8]),
    ) -> Option<WsEvent> {
        match &mut self.state {
            State::Backoff { until } => {
                if now < *until {
                    return None;
                }
                if let Err(why) = self.start_connect(registry, now) {
                    return Some(self.fail(registry, now, Cause::Connect, why));
                }
                None
            }
            State::Connecting { stream, deadline } => {
                let tcp = stream.tcp();
                match tcp.take_error() {
                    Ok(Some(e)) | Err(e) => {
                        return Some(self.fail(
                            registry,
                            now,
                            Cause::Connect,
                            format!("connect: {e}"),
                        ))
                    }
                    Ok(None) => {}
                }
                if tcp.peer_addr().is_err() {
                    if now >= *deadline {
                        return Some(self.fail(
                            registry,
                            now,
                            Cause::ConnectTimeout,
                            "connect timed out".into(),
                        ));
                    }
                    return None;
                }
                let _ = tcp.set_nodelay(true);
                let key = tungstenite::handshake::client::generate_key();
                let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
                let request = format!(
                    "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
                     Sec-WebSocket-Version: 13\r\n\r\n",
                    self.resource, self.target.host, self.target.port
                );
                self.buffers.tx.clear();
                self.buffers.tx.extend_from_slice(request.as_bytes());
                let State::Connecting { stream, .. } =
                    std::mem::replace(&mut self.state, State::Backoff { until: now })
                else {
                    return None;
                };
                self.state = State::Handshaking {
                    stream,
                    deadline: now + self.settings.handshake_timeout,
                    accept,
                };
                self.handshake(registry, now)
            }
            State::Handshaking { .. } => self.handshake(registry, now),
            State::Open { .. } => self.read_open(registry, now, on_message),
        }
    }

    /// Sends the upgrade request and reads the answer; opens the connection and sends the
    /// subscriptions once the server has switched protocols.
    fn handshake(&mut self, registry: &mio::Registry, now: Instant) -> Option<WsEvent> {
        let State::Handshaking {
            stream,
            deadline,
            accept,
        } = &mut self.state
        else {
            return None;
        };
        if now >= *deadline {
            return Some(self.fail(
                registry,
                now,
                Cause::HandshakeTimeout,
                "handshake timed out".into(),
            ));
        }
        let b = &mut self.buffers;
        let step = b.flush(stream).and_then(|()| {
            while b.read(stream)? {
                if b.rx_end >= MAX_HANDSHAKE {
                    break;
                }
            }
            Ok(())
        });
        if let Err(e) = step {
            return Some(self.fail(registry, now, Cause::Handshake, format!("handshake: {e}")));
        }
        let received = &b.rx[..b.rx_end];
        let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
            if b.rx_end >= MAX_HANDSHAKE {
                return Some(self.fail(
                    registry,
                    now,
                    Cause::Handshake,
                    format!("handshake: no end of the HTTP answer in {MAX_HANDSHAKE} bytes"),
                ));
            }
            return None;
        };
        if let Err(why) = check_upgrade(&received[..end], accept) {
            return Some(self.fail(registry, now, Cause::Handshake, format!("handshake: {why}")));
        }
        b.rx_start = end + 4;
        let State::Handshaking { stream, .. } =
            std::mem::replace(&mut self.state, State::Backoff { until: now })
        else {
            return None;
        };
        self.state = State::Open {
            stream,
            last_rx: now,
            pinged: false,
            fragment: None,
        };
        for i in 0..self.settings.subscriptions.len() {
            let mask = self.mask();
            if let Err(e) = self.buffers.queue(
                Opcode::Text,
                self.settings.subscriptions[i].as_bytes(),
                mask,
            ) {
                return Some(self.fail(registry, now, Cause::Write, format!("subscribe: {e}")));
            }
        }
        Some(WsEvent::Connected)
    }

    fn read_open(
        &mut self,
        registry: &mio::Registry,
        now: Instant,
        on_message: &mut dyn FnMut(&mut [u8]),
    ) -> Option<WsEvent> {
        if let Some(why) = self.write_failed.take() {
            return Some(self.fail(registry, now, Cause::Write, why));
        }
        let max_message = self.settings.max_message;
        let mut delivered = false;
        loop {
            let State::Open {
                stream,
                last_rx,
                pinged,
                fragment,
            } = &mut self.state
            else {
                return None;
            };
            let b = &mut self.buffers;
            let header = match parse_header(&b.rx[b.rx_start..b.rx_end], max_message) {
                Ok(h) => h,
                Err(e) => {
                    let cause = match e {
                        FrameError::TooLarge { .. } => Cause::Oversize,
                        _ => Cause::Protocol,
                    };
                    return Some(self.fail(registry, now, cause, format!("read: {e}")));
                }
            };
            let complete = header.filter(|h| b.rx_end - b.rx_start >= h.header_len + h.payload_len);
            let Some(h) = complete else {
                if delivered {
                    // The caller acts on what it was given before this thread spends a system
                    // call on the next read; it reads on its next turn.
                    break;
                }
                match b.read(stream) {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        return Some(self.fail(registry, now, read_cause(&e), format!("read: {e}")))
                    }
                }
            };
            let payload = b.rx_start + h.header_len..b.rx_start + h.header_len + h.payload_len;
            b.rx_start = payload.end;
            *last_rx = now;
            *pinged = false;
            let violation = match (h.opcode, *fragment) {
                (Opcode::Text | Opcode::Binary, Some(_)) => {
                    Some("a new message began inside a fragmented one")
                }
                (Opcode::Continuation, None) => Some("a continuation frame without a message"),
                _ => None,
            };
            if let Some(why) = violation {
                return Some(self.fail(registry, now, Cause::Protocol, format!("read: {why}")));
            }
            // A whole message: `Some(text?, assembled from fragments?)`.
            let whole = match h.opcode {
                Opcode::Text | Opcode::Binary if h.fin => Some((h.opcode == Opcode::Text, false)),
                Opcode::Text | Opcode::Binary => {
                    b.message.clear();
                    b.message.extend_from_slice(&b.rx[payload.clone()]);
                    *fragment = Some(h.opcode);
                    None
                }
                Opcode::Continuation => {
                    if b.message.len() + payload.len() > max_message {
                        return Some(self.fail(
                            registry,
                            now,
                            Cause::Oversize,
                            format!("read: a fragmented message over {max_message} bytes"),
                        ));
                    }
                    b.message.extend_from_slice(&b.rx[payload.clone()]);
                    h.fin.then(|| (fragment.take() == Some(Opcode::Text), true))
                }
                _ => None,
            };
            if let Some((text, assembled)) = whole {
                let body = if assembled {
                    &mut b.message[..]
                } else {
                    &mut b.rx[payload]
                };
                if text && std::str::from_utf8(body).is_err() {
                    return Some(self.fail(
                        registry,
                        now,
                        Cause::Protocol,
                        "read: a text message that is not UTF-8".into(),
                    ));
                }
                self.backoff = self.settings.backoff_min;
                on_message(body);
                delivered = true;
                continue;
            }
            match h.opcode {
                Opcode::Ping => {
                    let mut echo = [0u8; 125];
                    let n = payload.len();
                    echo[..n].copy_from_slice(&b.rx[payload]);
                    let mask = self.mask();
                    if let Err(e) = self.buffers.queue(Opcode::Pong, &echo[..n], mask) {
                        return Some(self.fail(registry, now, Cause::Write, format!("pong: {e}")));
                    }
                }
                Opcode::Pong | Opcode::Text | Opcode::Binary | Opcode::Continuation => {}
                Opcode::Close => {
                    let body = &b.rx[payload];
                    let why = match body {
                        [hi, lo, reason @ ..] => format!(
                            "closed by server: {} {}",
                            u16::from_be_bytes([*hi, *lo]),
                            String::from_utf8_lossy(reason)
                        ),
                        _ => "closed by server".to_string(),
                    };
                    let reply = [
                        body.first().copied().unwrap_or(0x03),
                        body.get(1).copied().unwrap_or(0xE8),
                    ];
                    let mask = self.mask();
                    if let State::Open { stream, .. } = &mut self.state {
                        if self.buffers.queue(Opcode::Close, &reply, mask).is_ok() {
                            let _ = self.buffers.flush(stream);
                        }
                    }
                    return Some(self.fail(registry, now, Cause::ClosedByServer, why));
                }
            }
        }
        let State::Open {
            stream,
            last_rx,
            pinged,
            ..
        } = &mut self.state
        else {
            return None;
        };
        if let Err(e) = self.buffers.flush(stream) {
            return Some(self.fail(registry, now, Cause::Write, format!("write: {e}")));
        }
        let quiet = now.saturating_duration_since(*last_rx);
        if quiet >= self.settings.idle_timeout {
            return Some(self.fail(
                registry,
                now,
                Cause::Dead,
                format!("nothing received for {quiet:?}"),
            ));
        }
        if quiet >= self.settings.ping_after && !*pinged {
            *pinged = true;
            let mask = self.mask();
            if let Err(e) = self.buffers.queue(Opcode::Ping, &[], mask) {
                return Some(self.fail(registry, now, Cause::Write, format!("ping: {e}")));
            }
        }
        None
    }
}

/// Checks the server's answer to the upgrade request (the bytes before the blank line):
/// status 101 and the expected `Sec-WebSocket-Accept`.
fn check_upgrade(head: &[u8], accept: &str) -> Result<(), String> {
    let head = std::str::from_utf8(head).map_err(|_| "the HTTP answer is not UTF-8".to_string())?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 101") {
        return Err(format!("the server answered {status:?}, not 101"));
    }
    let offered = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-accept")
            .then(|| value.trim())
    });
    match offered {
        Some(v) if v == accept => Ok(()),
        Some(v) => Err(format!("Sec-WebSocket-Accept {v:?} does not match the key")),
        None => Err("no Sec-WebSocket-Accept in the answer".into()),
    }
}

/// A seed for the connection's generator from the OS's randomness (std's hasher keys).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish() | 1
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("wss://stream.binance.com:9443/stream?streams=a")
            .is_ok_and(|t| t.tls && t.port == 9443));
        assert!(parse_url("ws://127.0.0.1/ws").is_ok_and(|t| !t.tls && t.port == 80));
        assert!(parse_url("https://x").is_ok_and(|t| t.tls && t.port == 443));
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("wss://:1/").is_err());
        assert!(parse_url("wss://host:port/").is_err());
    }

    #[test]
    fn a_warm_frame_leaves_the_send_buffer_as_it_was() {
        let mut c = WsConnection::new(WsSettings::new("ws://127.0.0.1:1/"), mio::Token(0))
            .expect("connection");
        let capacity = c.buffers.tx.capacity();
        c.warm_frame(&[b'x'; 300]);
        assert!(c.buffers.tx.is_empty());
        assert_eq!(c.buffers.tx.capacity(), capacity, "no allocation");
        // Bytes waiting to be written are left alone.
        c.buffers.tx.extend_from_slice(b"pending");
        c.warm_frame(b"{}");
        assert_eq!(c.buffers.tx, b"pending");
    }

    #[test]
    fn read_failures_are_told_apart() {
        let ended = io::Error::new(io::ErrorKind::UnexpectedEof, StreamEnded);
        assert_eq!(read_cause(&ended), Cause::ClosedByServer);
        let truncated = io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer closed connection without sending TLS close_notify",
        );
        assert_eq!(read_cause(&truncated), Cause::Truncated);
        let refused = io::Error::new(io::ErrorKind::InvalidData, "received corrupt message");
        assert_eq!(read_cause(&refused), Cause::TlsRecord);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(read_cause(&reset), Cause::Read);
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let mut s = WsSettings::new("wss://localhost:1/");
        s.ca_file = Some(empty);
        assert!(matches!(
            WsConnection::new(s.clone(), mio::Token(0)),
            Err(WsConfigError::CaFile { .. })
        ));
        s.ca_file = Some(dir.path().join("missing.pem"));
        assert!(matches!(
            WsConnection::new(s, mio::Token(0)),
            Err(WsConfigError::CaFile { .. })
        ));
    }
}
