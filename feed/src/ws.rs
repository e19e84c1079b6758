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
//! # Messages
//!
//! Text and binary frames are handed to the caller as a mutable byte slice (copied into one
//! buffer reused for every message, so decoders that parse in place can use it directly).

use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

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
    /// Reading failed (a reset, most often).
    Read,
    /// Writing failed.
    Write,
}

impl Cause {
    /// What happened, in words (a log line's text).
    pub const fn describe(self) -> &'static str {
        match self {
            Cause::Connect => "cannot connect (name, TCP or TLS set-up); retrying, attempt {}",
            Cause::ConnectTimeout => "connect timed out; retrying, attempt {}",
            Cause::Handshake => "TLS or WebSocket handshake failed; retrying, attempt {}",
            Cause::HandshakeTimeout => "handshake timed out; retrying, attempt {}",
            Cause::ClosedByServer => "closed by the server; reconnecting, attempt {}",
            Cause::Dead => {
                "connection dead: nothing received, not even a pong; reconnecting, attempt {}"
            }
            Cause::Oversize => {
                "the server announced a frame or message over the size limit; reconnecting, \
                 attempt {}"
            }
            Cause::Protocol => "the server broke the WebSocket protocol; reconnecting, attempt {}",
            Cause::Read => "read failed (connection reset?); reconnecting, attempt {}",
            Cause::Write => "write failed; reconnecting, attempt {}",
        }
    }

    fn of_read(e: &tungstenite::Error) -> Self {
        match e {
            tungstenite::Error::Capacity(_) => Cause::Oversize,
            tungstenite::Error::Protocol(_) | tungstenite::Error::Utf8 => Cause::Protocol,
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                Cause::ClosedByServer
            }
            _ => Cause::Read,
        }
    }
}

enum Stream {
    Plain(mio::net::TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, mio::net::TcpStream>>),
}

impl Stream {
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

enum State {
    Backoff {
        until: Instant,
    },
    Connecting {
        stream: Stream,
        deadline: Instant,
    },
    Handshaking {
        mid: Box<MidHandshake<ClientHandshake<Stream>>>,
        deadline: Instant,
    },
    Open {
        ws: Box<WebSocket<Stream>>,
        last_rx: Instant,
        pinged: bool,
    },
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
    tls: Option<Arc<rustls::ClientConfig>>,
    token: mio::Token,
    state: State,
    backoff: Duration,
    rng: u64,
    reconnects: u64,
    message: Vec<u8>,
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
    /// A connection that will connect on the first [`WsConnection::drive`].
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
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Ok(Self {
            backoff: settings.backoff_min,
            settings,
            target,
            tls,
            token,
            state: State::Backoff {
                until: Instant::now(),
            },
            rng: seed,
            reconnects: 0,
            message: Vec::with_capacity(4096),
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

    /// The token this connection's socket is registered under.
    pub fn token(&self) -> mio::Token {
        self.token
    }

    fn jitter(&mut self, d: Duration) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        // Full jitter between half and all of the delay.
        let half = d / 2;
        half + Duration::from_nanos(self.rng % (half.as_nanos() as u64 + 1))
    }

    fn fail(
        &mut self,
        registry: &mio::Registry,
        now: Instant,
        cause: Cause,
        detail: String,
    ) -> WsEvent {
        let mut old = std::mem::replace(&mut self.state, State::Backoff { until: now });
        let stream = match &mut old {
            State::Connecting { stream, .. } => Some(stream),
            State::Handshaking { mid, .. } => Some(mid.get_mut().get_mut()),
            State::Open { ws, .. } => Some(ws.get_mut()),
            State::Backoff { .. } => None,
        };
        if let Some(s) = stream {
            let _ = registry.deregister(s.tcp());
        }
        drop(old);
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
        self.state = State::Connecting {
            stream,
            deadline: now + self.settings.connect_timeout,
        };
        Ok(())
    }

    /// Sends a text message on the open connection. A message the socket cannot take yet stays
    /// queued in the connection and goes out on the next [`WsConnection::drive`].
    ///
    /// # Errors
    ///
    /// When the connection is not open or the write failed (the connection will reconnect).
    pub fn send_text(&mut self, text: &[u8]) -> Result<(), String> {
        let State::Open { ws, .. } = &mut self.state else {
            return Err("not connected".into());
        };
        let text = std::str::from_utf8(text).map_err(|e| format!("not UTF-8: {e}"))?;
        match ws.send(Message::text(text)) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(format!("send: {e}")),
        }
    }

    /// Readiness for this connection's token (edge-triggered: `drive` reads until it blocks).
    pub fn on_event(&mut self, _event: &mio::event::Event) {}

    /// Advances the connection: connects, handshakes, reads every available message into
    /// `on_message`, pings, enforces timeouts. Returns a connection event, if one happened.
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
                let deadline = now + self.settings.handshake_timeout;
                let State::Connecting { stream, .. } =
                    std::mem::replace(&mut self.state, State::Backoff { until: now })
                else {
                    return None;
                };
                let config = WebSocketConfig::default()
                    .max_message_size(Some(self.settings.max_message))
                    .max_frame_size(Some(self.settings.max_message));
                self.handshake_result(
                    registry,
                    now,
                    deadline,
                    tungstenite::client::client_with_config(
                        self.settings.url.as_str(),
                        stream,
                        Some(config),
                    ),
                )
            }
            State::Handshaking { deadline, .. } => {
                let deadline = *deadline;
                if now >= deadline {
                    return Some(self.fail(
                        registry,
                        now,
                        Cause::HandshakeTimeout,
                        "handshake timed out".into(),
                    ));
                }
                let State::Handshaking { mid, .. } =
                    std::mem::replace(&mut self.state, State::Backoff { until: now })
                else {
                    return None;
                };
                self.handshake_result(registry, now, deadline, mid.handshake())
            }
            State::Open { .. } => self.read_open(registry, now, on_message),
        }
    }

    fn handshake_result(
        &mut self,
        registry: &mio::Registry,
        now: Instant,
        deadline: Instant,
        result: Result<
            (WebSocket<Stream>, tungstenite::handshake::client::Response),
            HandshakeError<ClientHandshake<Stream>>,
        >,
    ) -> Option<WsEvent> {
        match result {
            Ok((mut ws, _)) => {
                for sub in &self.settings.subscriptions {
                    if let Err(e) = ws.send(Message::text(sub.clone())) {
                        if !matches!(&e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
                        {
                            self.state = State::Open {
                                ws: Box::new(ws),
                                last_rx: now,
                                pinged: false,
                            };
                            return Some(self.fail(
                                registry,
                                now,
                                Cause::Write,
                                format!("subscribe: {e}"),
                            ));
                        }
                    }
                }
                self.state = State::Open {
                    ws: Box::new(ws),
                    last_rx: now,
                    pinged: false,
                };
                Some(WsEvent::Connected)
            }
            Err(HandshakeError::Interrupted(mid)) => {
                self.state = State::Handshaking {
                    mid: Box::new(mid),
                    deadline,
                };
                None
            }
            Err(HandshakeError::Failure(e)) => {
                Some(self.fail(registry, now, Cause::Handshake, format!("handshake: {e}")))
            }
        }
    }

    fn read_open(
        &mut self,
        registry: &mio::Registry,
        now: Instant,
        on_message: &mut dyn FnMut(&mut [u8]),
    ) -> Option<WsEvent> {
        let State::Open {
            ws,
            last_rx,
            pinged,
        } = &mut self.state
        else {
            return None;
        };
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => {
                    *last_rx = now;
                    *pinged = false;
                    self.backoff = self.settings.backoff_min;
                    self.message.clear();
                    self.message.extend_from_slice(t.as_bytes());
                    on_message(&mut self.message);
                }
                Ok(Message::Binary(b)) => {
                    *last_rx = now;
                    *pinged = false;
                    self.message.clear();
                    self.message.extend_from_slice(&b);
                    on_message(&mut self.message);
                }
                Ok(Message::Close(frame)) => {
                    let why = frame.map_or_else(
                        || "closed by server".to_string(),
                        |f| format!("closed by server: {} {}", f.code, f.reason),
                    );
                    let _ = ws.flush();
                    return Some(self.fail(registry, now, Cause::ClosedByServer, why));
                }
                Ok(_) => {
                    *last_rx = now;
                    *pinged = false;
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    let cause = Cause::of_read(&e);
                    return Some(self.fail(registry, now, cause, format!("read: {e}")));
                }
            }
        }
        match ws.flush() {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Some(self.fail(registry, now, Cause::Write, format!("write: {e}"))),
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
            if let Err(e) = ws.send(Message::Ping(Vec::new().into())) {
                if !matches!(&e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
                {
                    return Some(self.fail(registry, now, Cause::Write, format!("ping: {e}")));
                }
            }
        }
        None
    }
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
