//! The mio WebSocket client against a real local TLS WebSocket server (rustls, certificate
//! generated here): subscribe, messages, a server close, an abrupt disconnect, and reconnects
//! that replay the subscription each time. Every wait is bounded.

use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tickwire_feed::ws::{Cause, WsConnection, WsEvent, WsSettings};
use tokio_tungstenite::tungstenite::Message;

fn server_tls(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("leaf");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca");
    let chain = vec![leaf.der().clone(), ca.der().clone()];
    let private = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .expect("cert"),
    )
}

#[test]
fn subscribe_receive_close_drop_and_reconnect_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = server_tls(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let subscriptions = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&subscriptions);
    runtime.spawn(async move {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        for k in 1..=3 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            if let Some(Ok(Message::Text(sub))) = ws.next().await {
                seen.lock().expect("lock").push(sub.to_string());
            }
            match k {
                1 => {
                    let _ = ws.send(Message::text("m1-1")).await;
                    let _ = ws.send(Message::text("m1-2")).await;
                    let _ = ws.close(None).await;
                    while let Some(Ok(_)) = ws.next().await {}
                }
                2 => {
                    let _ = ws.send(Message::text("m2-1")).await;
                    drop(ws); // abrupt: no close frame
                }
                _ => {
                    let _ = ws.send(Message::text("m3-1")).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            }
        }
    });

    let mut settings = WsSettings::new(&format!(
        "wss://127.0.0.1:{port}/stream?streams=btcusdt@trade"
    ));
    settings.ca_file = Some(dir.path().join("ca.pem"));
    settings.subscriptions = vec!["SUB btcusdt".to_string()];
    settings.backoff_min = Duration::from_millis(20);
    let mut conn = WsConnection::new(settings, mio::Token(7)).expect("config");
    let mut poll = mio::Poll::new().expect("poll");
    let mut events = mio::Events::with_capacity(16);
    let mut messages = Vec::new();
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !messages.contains(&"m3-1".to_string()) && Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(10)))
            .expect("poll");
        for event in events.iter() {
            assert_eq!(event.token(), conn.token());
            conn.on_event(event);
        }
        if let Some(e) = conn.drive(poll.registry(), Instant::now(), &mut |bytes| {
            messages.push(String::from_utf8_lossy(bytes).into_owned());
        }) {
            log.push(e);
        }
    }
    assert_eq!(
        messages,
        ["m1-1", "m1-2", "m2-1", "m3-1"],
        "events: {log:?}"
    );
    let connected = log.iter().filter(|e| **e == WsEvent::Connected).count();
    assert_eq!(connected, 3, "{log:?}");
    assert!(
        matches!(&log[1], WsEvent::Disconnected { cause: Cause::ClosedByServer, detail }
            if detail.contains("closed by server")),
        "{log:?}"
    );
    // Dropped without close_notify: the TLS stream was cut short, and is reported so.
    assert!(
        matches!(
            &log[3],
            WsEvent::Disconnected {
                cause: Cause::Truncated,
                ..
            }
        ),
        "{log:?}"
    );
    assert_eq!(conn.reconnects(), 2);
    assert!(conn.is_open());
    assert_eq!(
        *subscriptions.lock().expect("lock"),
        vec!["SUB btcusdt"; 3],
        "subscription replayed on every connect"
    );
    runtime.shutdown_timeout(Duration::from_millis(100));
}

#[test]
fn an_untrusted_certificate_is_refused_and_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = server_tls(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    runtime.spawn(async move {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    let mut settings = WsSettings::new(&format!("wss://127.0.0.1:{port}/"));
    settings.backoff_min = Duration::from_millis(10);
    let mut conn = WsConnection::new(settings, mio::Token(1)).expect("config");
    let mut poll = mio::Poll::new().expect("poll");
    let mut events = mio::Events::with_capacity(16);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failures = Vec::new();
    while failures.len() < 2 && Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(10)))
            .expect("poll");
        if let Some(WsEvent::Disconnected { cause, detail }) =
            conn.drive(poll.registry(), Instant::now(), &mut |_| {})
        {
            assert_eq!(cause, Cause::Handshake, "{detail}");
            failures.push(detail);
        }
    }
    assert_eq!(failures.len(), 2, "retried after failing");
    assert!(
        failures[0].contains("handshake") || failures[0].contains("certificate"),
        "{failures:?}"
    );
    assert!(!conn.is_open());
    runtime.shutdown_timeout(Duration::from_millis(100));
}
