//! A fault-injecting TCP proxy for a WebSocket market-data stream, plain (`ws://`) or TLS
//! (`wss://`).
//!
//! The proxy sits between the engine's feed connection and the venue. Bytes from the client go
//! to the venue unchanged (unless the connection is black-holed, or its handshake stalled).
//!
//! - **Plain** ([`FaultProxy::start`]): bytes from the venue pass the HTTP handshake answer
//!   through verbatim, then are cut into WebSocket frames (server frames are unmasked, so the
//!   proxy can read and rewrite them) and each frame meets the current [`Fault`]: passed,
//!   dropped, held, duplicated, dripped a byte at a time, or replaced by a hostile frame; a
//!   reset aborts the TCP connection with an RST half-way through a frame.
//! - **TLS** ([`FaultProxy::start_tls`]): the proxy holds no key, so it cuts the venue's bytes
//!   into TLS records and the faults act on the records the client must decrypt: a flipped
//!   ciphertext byte, a record cut short by a FIN (no `close_notify`) or an RST, and handshakes
//!   that go unanswered. Record faults wait until the connection has carried
//!   [`ESTABLISHED_RECORDS`] application-data records, so they hit an open stream, not its
//!   handshake.
//!
//! One-shot faults act on the next data frame they apply to, count themselves in
//! [`FaultProxy::applied`] and return the proxy to [`Fault::Pass`]. Every connection is served
//! by one thread polling both non-blocking sockets; every thread ends when the proxy is
//! dropped, and no read or write waits longer than a few milliseconds without checking.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does to the stream from the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every frame passes.
    Pass,
    /// Data frames are dropped; control frames (ping, pong, close) pass: a venue that is alive
    /// but sends no data.
    Stall,
    /// Nothing passes either way and nothing is closed: a half-open connection.
    Blackhole,
    /// Frames pass one byte at a time, this many milliseconds apart.
    Drip(u64),
    /// One-shot: half of the next data frame (TLS: application-data record), then the
    /// connection is reset (RST).
    ResetMidFrame,
    /// One-shot: a text frame header announcing 256 MiB, followed by 64 KiB of it.
    OversizeFrame,
    /// One-shot: a truncated JSON text frame before the next data frame.
    Malformed,
    /// One-shot: the next depth diff is dropped (a sequence gap).
    DropDepth,
    /// One-shot: the next depth diff is sent twice.
    DuplicateDepth,
    /// One-shot: the next depth diff is held and sent after the one that follows it.
    SwapDepth,
    /// TLS, one-shot: one byte of the next application-data record's ciphertext is flipped.
    CorruptRecord,
    /// TLS, one-shot: half of the next application-data record, then a FIN: the stream ends
    /// inside a record, without `close_notify`.
    TruncateRecord,
    /// TLS: an open connection is reset, and new ones get nothing forwarded either way: the
    /// venue accepts TCP connections but never answers a TLS handshake.
    StallHandshake,
}

impl Fault {
    /// Whether the fault can act on a stream cut by `framing`.
    fn applies_to(self, framing: Framing) -> bool {
        match self {
            Fault::Pass | Fault::Blackhole | Fault::ResetMidFrame => true,
            Fault::CorruptRecord | Fault::TruncateRecord | Fault::StallHandshake => {
                framing == Framing::Tls
            }
            Fault::Stall
            | Fault::Drip(_)
            | Fault::OversizeFrame
            | Fault::Malformed
            | Fault::DropDepth
            | Fault::DuplicateDepth
            | Fault::SwapDepth => framing == Framing::WebSocket,
        }
    }
}

/// How the proxy cuts the venue's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// The HTTP answer, then WebSocket frames.
    WebSocket,
    /// TLS records.
    Tls,
}

/// Records of (outer) content type application data from the venue after which a TLS
/// connection counts as open. TLS 1.3 sends its encrypted handshake messages and session
/// tickets under that type too (some six to eight records from the venue); twenty puts the
/// handshake, the HTTP upgrade and the first market data behind it.
pub const ESTABLISHED_RECORDS: u64 = 20;

/// TLS record content type of application data.
const APPLICATION_DATA: u8 = 23;

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    framing: Framing,
    fault: Mutex<Fault>,
    applied: AtomicU64,
    connections: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a one-shot fault done (if it is still the current one).
    fn done(&self, fault: Fault) {
        let mut current = self.fault.lock().unwrap_or_else(|e| e.into_inner());
        if *current == fault {
            *current = Fault::Pass;
        }
        self.applied.fetch_add(1, Ordering::SeqCst);
    }
}

/// A running proxy on a free loopback port; stops its threads on drop.
#[derive(Debug)]
pub struct FaultProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy forwarding to a plain WebSocket server at `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        Self::with_framing(upstream, Framing::WebSocket)
    }

    /// Starts a proxy forwarding to a TLS WebSocket server at `upstream` (the client still
    /// checks the server's certificate: it names the host, not the port).
    pub fn start_tls(upstream: SocketAddr) -> Self {
        Self::with_framing(upstream, Framing::Tls)
    }

    fn with_framing(upstream: SocketAddr, framing: Framing) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            framing,
            fault: Mutex::new(Fault::Pass),
            applied: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept_loop(&listener, &shared))
        };
        Self {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Sets the fault applied from the next frame (TLS: record) on.
    ///
    /// # Panics
    ///
    /// If the fault has no meaning for this proxy's framing (a WebSocket-frame fault on a TLS
    /// proxy, a TLS fault on a plain one): it would never be applied.
    pub fn set(&self, fault: Fault) {
        assert!(
            fault.applies_to(self.shared.framing),
            "{fault:?} does not apply to a {:?} proxy",
            self.shared.framing
        );
        *self.shared.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    /// One-shot faults carried out so far.
    pub fn applied(&self) -> u64 {
        self.shared.applied.load(Ordering::SeqCst)
    }

    /// Client connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut connections = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let shared = Arc::clone(shared);
                connections.push(std::thread::spawn(move || {
                    if let Ok(upstream) =
                        TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(5))
                    {
                        let _ = Connection::new(client, upstream).and_then(|c| c.run(&shared));
                    }
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    for c in connections {
        let _ = c.join();
    }
}

/// Largest frame the proxy itself reads (the venue's frames are far smaller).
const MAX_PROXIED_FRAME: usize = 16 << 20;

struct Connection {
    client: TcpStream,
    upstream: TcpStream,
    /// Bytes from the venue not yet forwarded.
    pending: Vec<u8>,
    handshake_done: bool,
    held: Option<Vec<u8>>,
    /// TLS: application-data records forwarded from the venue.
    records: u64,
}

/// How [`Connection::cut`] ends a connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// An abortive close: the peer gets an RST.
    Rst,
    /// A FIN after the bytes sent.
    Fin,
}

enum Flow {
    Continue,
    Closed,
}

impl Connection {
    fn new(client: TcpStream, upstream: TcpStream) -> io::Result<Self> {
        for s in [&client, &upstream] {
            s.set_nonblocking(true)?;
            s.set_nodelay(true)?;
        }
        Ok(Self {
            client,
            upstream,
            pending: Vec::new(),
            handshake_done: false,
            held: None,
            records: 0,
        })
    }

    fn run(mut self, shared: &Shared) -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        while !shared.stop.load(Ordering::SeqCst) {
            let mut moved = false;
            match self.client.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    moved = true;
                    if !self.swallowing(shared.fault()) {
                        write_all(&mut self.upstream, &buf[..n], shared)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // A stalled handshake shows the client nothing, not even the venue giving up on it.
            let stalled = shared.fault() == Fault::StallHandshake && !self.established();
            let from_venue = if stalled {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                self.upstream.read(&mut buf)
            };
            match from_venue {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    moved = true;
                    self.pending.extend_from_slice(&buf[..n]);
                    if let Flow::Closed = self.forward(shared)? {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if !moved {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    /// Whether the client's bytes are dropped under `fault`.
    fn swallowing(&self, fault: Fault) -> bool {
        fault == Fault::Blackhole || (fault == Fault::StallHandshake && !self.established())
    }

    /// TLS: whether the connection is past its handshake (see [`ESTABLISHED_RECORDS`]).
    fn established(&self) -> bool {
        self.records >= ESTABLISHED_RECORDS
    }

    /// Forwards every complete frame (TLS: record) in `pending`, applying the fault.
    fn forward(&mut self, shared: &Shared) -> io::Result<Flow> {
        if shared.framing == Framing::Tls {
            while let Some(len) = record_len(&self.pending)? {
                let record: Vec<u8> = self.pending.drain(..len).collect();
                if let Flow::Closed = self.apply_record(shared, record)? {
                    return Ok(Flow::Closed);
                }
            }
            return Ok(Flow::Continue);
        }
        if !self.handshake_done {
            let Some(end) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Ok(Flow::Continue);
            };
            let answer: Vec<u8> = self.pending.drain(..end + 4).collect();
            write_all(&mut self.client, &answer, shared)?;
            self.handshake_done = true;
        }
        while let Some(len) = frame_len(&self.pending)? {
            let frame: Vec<u8> = self.pending.drain(..len).collect();
            if let Flow::Closed = self.apply(shared, &frame)? {
                return Ok(Flow::Closed);
            }
        }
        Ok(Flow::Continue)
    }

    fn apply(&mut self, shared: &Shared, frame: &[u8]) -> io::Result<Flow> {
        let opcode = frame[0] & 0x0f;
        let data = opcode < 0x8;
        let depth = data && contains(frame, b"@depth");
        let fault = shared.fault();
        match fault {
            Fault::Pass => write_all(&mut self.client, frame, shared)?,
            Fault::Stall if data => {}
            Fault::Stall => write_all(&mut self.client, frame, shared)?,
            Fault::Blackhole => {}
            Fault::Drip(ms) => {
                for (i, byte) in frame.iter().enumerate() {
                    if shared.fault() != fault {
                        write_all(&mut self.client, &frame[i..], shared)?;
                        break;
                    }
                    write_all(&mut self.client, std::slice::from_ref(byte), shared)?;
                    std::thread::sleep(Duration::from_millis(ms));
                }
            }
            Fault::ResetMidFrame if data => return self.cut(shared, frame, fault, End::Rst),
            Fault::OversizeFrame if data => {
                let mut hostile = vec![0x81, 127];
                hostile.extend_from_slice(&(256u64 << 20).to_be_bytes());
                hostile.resize(hostile.len() + 64 * 1024, b'x');
                shared.done(fault);
                // The client should give up on the header alone; it may close while this is
                // still being written.
                let _ = write_all(&mut self.client, &hostile, shared);
            }
            Fault::Malformed if data => {
                let text = br#"{"stream":"btcusdt@bookTicker","data":{"u":12,"s":"BTCUSDT","b":"#;
                let mut bad = vec![0x81, text.len() as u8];
                bad.extend_from_slice(text);
                write_all(&mut self.client, &bad, shared)?;
                write_all(&mut self.client, frame, shared)?;
                shared.done(fault);
            }
            Fault::DropDepth if depth => shared.done(fault),
            Fault::DuplicateDepth if depth => {
                write_all(&mut self.client, frame, shared)?;
                write_all(&mut self.client, frame, shared)?;
                shared.done(fault);
            }
            Fault::SwapDepth if depth => match self.held.take() {
                None => self.held = Some(frame.to_vec()),
                Some(first) => {
                    write_all(&mut self.client, frame, shared)?;
                    write_all(&mut self.client, &first, shared)?;
                    shared.done(fault);
                }
            },
            _ => write_all(&mut self.client, frame, shared)?,
        }
        Ok(Flow::Continue)
    }

    /// Forwards the first half of `bytes`, marks the one-shot `fault` done and ends the
    /// connection to the client inside them, as `end` says. After a FIN the client's bytes are
    /// read and dropped until it closes (5 s at most), so that the close that follows is not
    /// turned into an RST by unread data.
    fn cut(&mut self, shared: &Shared, bytes: &[u8], fault: Fault, end: End) -> io::Result<Flow> {
        write_all(&mut self.client, &bytes[..bytes.len() / 2], shared)?;
        shared.done(fault);
        if end == End::Rst {
            reset(&self.client);
        } else {
            self.client.shutdown(std::net::Shutdown::Write)?;
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let mut sink = [0u8; 4096];
            while std::time::Instant::now() < deadline && !shared.stop.load(Ordering::SeqCst) {
                match self.client.read(&mut sink) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(_) => break,
                }
            }
        }
        Ok(Flow::Closed)
    }

    fn apply_record(&mut self, shared: &Shared, mut record: Vec<u8>) -> io::Result<Flow> {
        let fault = shared.fault();
        let data = record[0] == APPLICATION_DATA;
        let open = self.established();
        if data {
            self.records += 1;
        }
        match fault {
            Fault::Blackhole => {}
            Fault::StallHandshake if open => {
                reset(&self.client);
                return Ok(Flow::Closed);
            }
            Fault::StallHandshake => {}
            Fault::CorruptRecord if data && open => {
                let at = RECORD_HEADER + (record.len() - RECORD_HEADER) / 2;
                record[at] ^= 0x01;
                write_all(&mut self.client, &record, shared)?;
                shared.done(fault);
            }
            Fault::TruncateRecord if data && open => {
                return self.cut(shared, &record, fault, End::Fin)
            }
            Fault::ResetMidFrame if data && open => {
                return self.cut(shared, &record, fault, End::Rst)
            }
            _ => write_all(&mut self.client, &record, shared)?,
        }
        Ok(Flow::Continue)
    }
}

/// A TLS record's header: content type, version, length.
const RECORD_HEADER: usize = 5;

/// Length of the complete TLS record at the start of `bytes`, if it is all there.
fn record_len(bytes: &[u8]) -> io::Result<Option<usize>> {
    if bytes.len() < RECORD_HEADER {
        return Ok(None);
    }
    let payload = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
    if payload == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the venue sent an empty TLS record",
        ));
    }
    let total = RECORD_HEADER + payload;
    Ok((bytes.len() >= total).then_some(total))
}

/// Length of the complete frame at the start of `bytes`, if it is all there.
fn frame_len(bytes: &[u8]) -> io::Result<Option<usize>> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    let masked = bytes[1] & 0x80 != 0;
    let (header, payload) = match bytes[1] & 0x7f {
        126 if bytes.len() >= 4 => (4, usize::from(u16::from_be_bytes([bytes[2], bytes[3]]))),
        127 if bytes.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&bytes[2..10]);
            let n = u64::from_be_bytes(n);
            (10, usize::try_from(n).unwrap_or(usize::MAX))
        }
        126 | 127 => return Ok(None),
        n => (2, usize::from(n)),
    };
    if payload > MAX_PROXIED_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the venue sent a {payload}-byte frame"),
        ));
    }
    let total = header + if masked { 4 } else { 0 } + payload;
    Ok((bytes.len() >= total).then_some(total))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Writes all of `bytes` to a non-blocking socket, waiting out a full socket buffer.
fn write_all(stream: &mut TcpStream, mut bytes: &[u8], shared: &Shared) -> io::Result<()> {
    while !bytes.is_empty() {
        if shared.stop.load(Ordering::SeqCst) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "proxy stopped"));
        }
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes the close of `stream` an abortive one: the peer gets an RST, not a FIN.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the fd is a live socket owned by `stream`; the option value is a valid `linger`
    // whose size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", io::Error::last_os_error());
}
