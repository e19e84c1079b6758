//! The snapshot thread: fetches REST depth snapshots (`GET /api/v3/depth`) for the feed
//! thread, which must never block on a request/response round trip.
//!
//! The feed thread asks over one SPSC ring and gets the body back over another. Each fetch is
//! a plain HTTP/1.0 GET (so the body is never chunked) over TLS with connect, read and write
//! timeouts and a bounded body size; a failure comes back as an error the feed counts and
//! retries. Bodies are allocated here, only during (re)synchronisation.

use crate::idle::Agent;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tickwire_feed::ws::Endpoint;

/// Largest snapshot body accepted.
pub const MAX_BODY: usize = 8 << 20;
const TIMEOUT: Duration = Duration::from_secs(5);
/// Levels asked for per side.
pub const SNAPSHOT_LIMIT: u32 = 1000;

/// A request for one instrument's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotRequest {
    /// Instrument index.
    pub instrument: u16,
}

/// A fetched snapshot body, or why there is none.
#[derive(Debug)]
pub struct SnapshotReply {
    /// Instrument index.
    pub instrument: u16,
    /// The JSON body.
    pub body: Result<Vec<u8>, String>,
}

/// The snapshot thread's agent.
pub struct SnapshotFetcher {
    endpoint: Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
    symbols: Vec<String>,
    requests: rtrb::Consumer<SnapshotRequest>,
    replies: rtrb::Producer<SnapshotReply>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for SnapshotFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotFetcher")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The feed thread's ends of the snapshot rings.
#[derive(Debug)]
pub struct SnapshotClient {
    /// Requests to the snapshot thread.
    pub requests: rtrb::Producer<SnapshotRequest>,
    /// Replies from it.
    pub replies: rtrb::Consumer<SnapshotReply>,
}

impl SnapshotFetcher {
    /// A fetcher for `symbols` (indexed by instrument) at `endpoint`, and the feed's client.
    pub fn new(
        endpoint: Endpoint,
        tls: Option<Arc<rustls::ClientConfig>>,
        symbols: Vec<String>,
        stop: Arc<AtomicBool>,
    ) -> (Self, SnapshotClient) {
        let (req_tx, req_rx) = crate::ring::ring(64);
        let (rep_tx, rep_rx) = crate::ring::ring(64);
        (
            Self {
                endpoint,
                tls,
                symbols,
                requests: req_rx,
                replies: rep_tx,
                stop,
            },
            SnapshotClient {
                requests: req_tx,
                replies: rep_rx,
            },
        )
    }

    fn fetch(&self, instrument: u16) -> Result<Vec<u8>, String> {
        let symbol = self
            .symbols
            .get(usize::from(instrument))
            .ok_or_else(|| format!("no instrument {instrument}"))?;
        let e = &self.endpoint;
        let addr = (e.host.as_str(), e.port)
            .to_socket_addrs()
            .map_err(|err| format!("resolve {}: {err}", e.host))?
            .next()
            .ok_or_else(|| format!("resolve {}: no address", e.host))?;
        let tcp = TcpStream::connect_timeout(&addr, TIMEOUT)
            .map_err(|err| format!("connect {addr}: {err}"))?;
        tcp.set_read_timeout(Some(TIMEOUT))
            .map_err(|err| err.to_string())?;
        tcp.set_write_timeout(Some(TIMEOUT))
            .map_err(|err| err.to_string())?;
        let request = format!(
            "GET /api/v3/depth?symbol={symbol}&limit={SNAPSHOT_LIMIT} HTTP/1.0\r\nHost: {}\r\nAccept: application/json\r\n\r\n",
            e.host
        );
        let mut response = Vec::with_capacity(64 * 1024);
        match &self.tls {
            None => exchange(tcp, request.as_bytes(), &mut response)?,
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(e.host.clone())
                    .map_err(|err| err.to_string())?;
                let conn = rustls::ClientConnection::new(Arc::clone(config), name)
                    .map_err(|err| format!("TLS: {err}"))?;
                exchange(
                    rustls::StreamOwned::new(conn, tcp),
                    request.as_bytes(),
                    &mut response,
                )?;
            }
        }
        let head_end = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("response without a header end")?;
        let status_line = response[..head_end]
            .split(|&b| b == b'\n')
            .next()
            .unwrap_or_default();
        let status = std::str::from_utf8(status_line)
            .unwrap_or("")
            .split_whitespace()
            .nth(1)
            .unwrap_or("");
        if status != "200" {
            return Err(format!("snapshot for {symbol}: HTTP status {status:?}"));
        }
        Ok(response.split_off(head_end + 4))
    }
}

fn exchange(
    mut stream: impl Read + Write,
    request: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    stream
        .write_all(request)
        .map_err(|e| format!("send request: {e}"))?;
    stream.flush().map_err(|e| format!("send request: {e}"))?;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                if out.len() + n > MAX_BODY {
                    return Err(format!("response larger than {MAX_BODY} bytes"));
                }
                out.extend_from_slice(&chunk[..n]);
            }
            // A peer that closes without TLS close_notify after sending everything is common.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {
                return Ok(())
            }
            Err(e) => return Err(format!("read response: {e}")),
        }
    }
}

impl Agent for SnapshotFetcher {
    fn role_name(&self) -> &'static str {
        "snapshot"
    }

    fn do_work(&mut self) -> usize {
        let Ok(request) = self.requests.pop() else {
            return 0;
        };
        let mut reply = SnapshotReply {
            instrument: request.instrument,
            body: self.fetch(request.instrument),
        };
        loop {
            match self.replies.push(reply) {
                Ok(()) => return 1,
                Err(rtrb::PushError::Full(r)) if !self.stop.load(Ordering::Acquire) => {
                    reply = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => return 1,
            }
        }
    }

    fn is_done(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}
