//! The mio WebSocket client against a scripted plain-TCP server that answers the upgrade and
//! then sends raw frame bytes: fragmented messages are assembled, pings are answered with the
//! same payload, and every protocol violation (masked, reserved bits, undefined opcode,
//! fragmented or long control frame, a continuation without a message, a new message inside a
//! fragmented one, invalid UTF-8 text, an oversize fragmented message, a bad accept key, a
//! non-101 answer) ends the connection with the right cause and is retried. Every wait is
//! bounded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use tickwire_feed::ws::{Cause, WsConnection, WsEvent, WsSettings};

/// Reads the client's upgrade request; returns its `Sec-WebSocket-Key`.
fn read_request(stream: &mut TcpStream) -> String {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("request byte");
        request.push(byte[0]);
    }
    let text = String::from_utf8(request).expect("UTF-8 request");
    assert!(
        text.starts_with("GET /stream?streams=x HTTP/1.1\r\n"),
        "{text}"
    );
    text.lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("key")
        .to_string()
}

fn upgrade(stream: &mut TcpStream, key: &str) {
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    write!(
        stream,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .expect("answer");
}

fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![b0];
    if payload.len() < 126 {
        f.push(payload.len() as u8);
    } else {
        f.push(126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// Reads one masked client frame: (opcode, unmasked payload).
fn read_client_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).expect("frame header");
    assert_eq!(head[1] & 0x80, 0x80, "client frames are masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            stream.read_exact(&mut l).expect("length");
            usize::from(u16::from_be_bytes(l))
        }
        n => usize::from(n),
    };
    let mut mask = [0u8; 4];
    stream.read_exact(&mut mask).expect("mask");
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).expect("payload");
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    (head[0] & 0x0f, payload)
}

/// Drives a client against one scripted connection; returns the messages it delivered and
/// the event that ended it (or `None` if it was still open after `wait`).
fn run(
    script: impl FnOnce(&mut TcpStream) + Send + 'static,
    max_message: usize,
    wait: Duration,
) -> (Vec<Vec<u8>>, Option<WsEvent>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        script(&mut stream);
        // Keep the socket open until the client is done with it.
        let _ = done_rx.recv_timeout(wait + Duration::from_secs(5));
    });
    let mut settings = WsSettings::new(&format!("ws://127.0.0.1:{port}/stream?streams=x"));
    settings.max_message = max_message;
    settings.backoff_min = Duration::from_secs(60);
    let mut conn = WsConnection::new(settings, mio::Token(3)).expect("config");
    let mut poll = mio::Poll::new().expect("poll");
    let mut events = mio::Events::with_capacity(8);
    let mut messages = Vec::new();
    let deadline = Instant::now() + wait;
    let mut ended = None;
    while Instant::now() < deadline && ended.is_none() {
        poll.poll(&mut events, Some(Duration::from_millis(5)))
            .expect("poll");
        match conn.drive(poll.registry(), Instant::now(), &mut |m| {
            messages.push(m.to_vec())
        }) {
            Some(WsEvent::Connected) | None => {}
            Some(e) => ended = Some(e),
        }
    }
    drop(conn);
    let _ = done_tx.send(());
    server.join().expect("server thread");
    (messages, ended)
}

fn cause(event: &Option<WsEvent>) -> Cause {
    match event {
        Some(WsEvent::Disconnected { cause, .. }) => *cause,
        other => panic!("not disconnected: {other:?}"),
    }
}

#[test]
fn fragments_are_assembled_and_pings_answered_with_their_payload() {
    let (messages, ended) = run(
        |s| {
            let key = read_request(s);
            upgrade(s, &key);
            let mut bytes = frame(0x01, b"{\"a\":");
            bytes.extend(frame(0x89, b"hb-7"));
            bytes.extend(frame(0x00, b"1,\"b\""));
            bytes.extend(frame(0x80, b":2}"));
            bytes.extend(frame(0x82, &[0, 1, 2]));
            s.write_all(&bytes).expect("frames");
            assert_eq!(read_client_frame(s), (0xA, b"hb-7".to_vec()), "pong echoes");
        },
        1024,
        Duration::from_secs(2),
    );
    assert!(ended.is_none(), "{ended:?}");
    assert_eq!(messages, [b"{\"a\":1,\"b\":2}".to_vec(), vec![0, 1, 2]]);
}

#[test]
fn every_protocol_violation_ends_the_connection_with_its_cause() {
    let cases: Vec<(&str, Vec<u8>, Cause)> = vec![
        (
            "masked",
            vec![0x81, 0x82, 1, 2, 3, 4, b'a', b'b'],
            Cause::Protocol,
        ),
        ("reserved bits", frame(0xC1, b"x"), Cause::Protocol),
        ("undefined opcode", frame(0x83, b"x"), Cause::Protocol),
        ("fragmented ping", frame(0x09, b"x"), Cause::Protocol),
        ("long close", frame(0x88, &[b'x'; 126]), Cause::Protocol),
        ("lone continuation", frame(0x80, b"x"), Cause::Protocol),
        (
            "message inside a fragmented one",
            [frame(0x01, b"a"), frame(0x81, b"b")].concat(),
            Cause::Protocol,
        ),
        (
            "invalid UTF-8 text",
            frame(0x81, &[0xff, 0xfe]),
            Cause::Protocol,
        ),
        (
            "oversize fragmented message",
            [frame(0x01, &[b'a'; 100]), frame(0x80, &[b'a'; 100])].concat(),
            Cause::Oversize,
        ),
        ("oversize frame", frame(0x81, &[b'a'; 300]), Cause::Oversize),
        (
            "close",
            frame(0x88, &[0x03, 0xf0, b'b', b'y', b'e']),
            Cause::ClosedByServer,
        ),
    ];
    for (name, bytes, expected) in cases {
        let (messages, ended) = run(
            move |s| {
                let key = read_request(s);
                upgrade(s, &key);
                s.write_all(&bytes).expect("frames");
            },
            150,
            Duration::from_secs(3),
        );
        assert!(messages.is_empty(), "{name}: delivered {messages:?}");
        assert_eq!(cause(&ended), expected, "{name}: {ended:?}");
        if name == "close" {
            assert!(
                matches!(&ended, Some(WsEvent::Disconnected { detail, .. }) if detail.contains("1008 bye")),
                "{ended:?}"
            );
        }
    }
}

#[test]
fn a_bad_upgrade_answer_is_a_handshake_failure() {
    let answers: [(&str, &[u8]); 3] = [
        (
            "not 101",
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            "wrong accept",
            b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAA\r\n\r\n",
        ),
        ("no accept", b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
    ];
    for (name, answer) in answers {
        let (_, ended) = run(
            move |s| {
                read_request(s);
                s.write_all(answer).expect("answer");
            },
            1024,
            Duration::from_secs(3),
        );
        assert_eq!(cause(&ended), Cause::Handshake, "{name}: {ended:?}");
    }
}

#[test]
fn queued_messages_leave_together_at_the_flush() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (queued_tx, queued_rx) = std::sync::mpsc::channel::<()>();
    let (checked_tx, checked_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let key = read_request(&mut s);
        upgrade(&mut s, &key);
        queued_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("queued");
        s.set_nonblocking(true).expect("nonblocking");
        let mut byte = [0u8; 1];
        let early = s.read(&mut byte);
        assert!(
            matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "queueing wrote nothing: {early:?}"
        );
        s.set_nonblocking(false).expect("blocking");
        checked_tx.send(()).expect("checked");
        let frames = [read_client_frame(&mut s), read_client_frame(&mut s)];
        assert_eq!(frames, [(0x1, b"one".to_vec()), (0x1, b"two".to_vec())]);
    });
    let settings = WsSettings::new(&format!("ws://127.0.0.1:{port}/stream?streams=x"));
    let mut conn = WsConnection::new(settings, mio::Token(3)).expect("config");
    let poll = mio::Poll::new().expect("poll");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !conn.is_open() {
        assert!(Instant::now() < deadline, "not connected");
        let _ = conn.drive(poll.registry(), Instant::now(), &mut |_| {});
        std::thread::sleep(Duration::from_millis(1));
    }
    conn.queue_text(b"one").expect("queued");
    conn.queue_text(b"two").expect("queued");
    queued_tx.send(()).expect("signal");
    checked_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("server checked");
    conn.flush().expect("written");
    server.join().expect("server");
}
