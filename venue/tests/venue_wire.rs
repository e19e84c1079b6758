//! The real `venue` process over real TLS: market streams, the REST snapshot, the WebSocket
//! API with execution reports, the admin account view and fault injection. Every wait is
//! bounded.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

struct Venue {
    child: Child,
    info: Value,
    _dir: tempfile::TempDir,
}

impl Drop for Venue {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_venue() -> Venue {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = Command::new(env!("CARGO_BIN_EXE_venue"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--seed",
            "5",
            "--step-ms",
            "5",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn venue");
    let path = dir.path().join("venue.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    let info = loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                break v;
            }
        }
        assert!(Instant::now() < deadline, "venue did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    Venue {
        child,
        info,
        _dir: dir,
    }
}

fn tls_config(venue: &Venue) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(venue.info["ca_file"].as_str().expect("ca_file")).expect("read CA");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.expect("pem")).expect("add CA");
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

async fn connect(venue: &Venue, path: &str) -> Ws {
    let url = format!("{}{path}", venue.info["venue"].as_str().expect("venue url"));
    let url = url.replace("127.0.0.1", "localhost");
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_tls_with_config(
            url,
            None,
            true,
            Some(Connector::Rustls(tls_config(venue))),
        ),
    )
    .await
    .expect("connect timeout")
    .expect("connect");
    ws
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("frame in time")
            .expect("open")
            .expect("frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap_or_else(|e| panic!("bad JSON {t}: {e}"));
        }
    }
}

async fn call(ws: &mut Ws, request: Value) -> Value {
    let id = request["id"].clone();
    ws.send(Message::Text(request.to_string().into()))
        .await
        .expect("send");
    loop {
        let v = next_json(ws).await;
        if v["id"] == id {
            return v;
        }
    }
}

async fn https_get(venue: &Venue, path: &str) -> (u16, Value) {
    let addr = venue.info["rest"]
        .as_str()
        .expect("rest")
        .trim_start_matches("https://")
        .to_string();
    let tcp = tokio::net::TcpStream::connect(&addr).await.expect("tcp");
    let connector = tokio_rustls::TlsConnector::from(tls_config(venue));
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("tls");
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await.expect("write");
    let mut body = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut body)).await;
    let text = String::from_utf8_lossy(&body).to_string();
    let status = text[9..12].parse().expect("status");
    let json_start = text.find('{').expect("body");
    (
        status,
        serde_json::from_str(text[json_start..].trim_end_matches(|c: char| c != '}'))
            .expect("json body"),
    )
}

fn admin(venue: &Venue, method: &str, path: &str, body: &str) -> (u16, Value) {
    use std::io::{Read, Write};
    let addr = venue.info["venue_admin"]
        .as_str()
        .expect("admin")
        .trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("admin connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).expect("write");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text[9..12].parse().expect("status");
    let body = &text[text.find("\r\n\r\n").expect("head") + 4..];
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_snapshot_and_order_entry_over_tls() {
    let venue = start_venue();
    let mut md = connect(
        &venue,
        "/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms/btcusdt@trade",
    )
    .await;
    let mut seen = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 3 && Instant::now() < deadline {
        let v = next_json(&mut md).await;
        let stream = v["stream"].as_str().expect("combined wrapper").to_string();
        let data = &v["data"];
        match stream.as_str() {
            "btcusdt@bookTicker" => {
                assert!(
                    data["u"].is_u64() && data["b"].is_string() && data["A"].is_string(),
                    "{data}"
                );
            }
            "btcusdt@depth@100ms" => {
                assert_eq!(data["e"], "depthUpdate");
                assert!(data["U"].as_u64() <= data["u"].as_u64(), "{data}");
            }
            "btcusdt@trade" => {
                assert_eq!(data["e"], "trade");
                assert!(data["p"].is_string() && data["m"].is_boolean(), "{data}");
            }
            other => panic!("unexpected stream {other}"),
        }
        seen.insert(stream);
    }
    assert_eq!(seen.len(), 3, "all three streams flowed: {seen:?}");

    let (status, snap) = https_get(&venue, "/api/v3/depth?symbol=BTCUSDT&limit=5").await;
    assert_eq!(status, 200);
    assert!(snap["lastUpdateId"].is_u64());
    assert_eq!(snap["bids"].as_array().map(Vec::len), Some(5));
    let (status, err) = https_get(&venue, "/api/v3/depth?symbol=NOPE").await;
    assert_eq!((status, err["code"].as_i64()), (400, Some(-1121)));

    let mut api = connect(&venue, "/ws-api/v3").await;
    let sub = call(
        &mut api,
        json!({"id": 1, "method": "userDataStream.subscribe", "params": {"apiKey": "engine"}}),
    )
    .await;
    assert_eq!(sub["status"], 200);
    let bid: f64 = snap["bids"][0][0]
        .as_str()
        .expect("bid")
        .parse()
        .expect("number");
    let far = format!("{:.2}", bid - 500.0);
    let placed = call(&mut api, json!({"id": 2, "method": "order.place", "params": {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "price": far, "quantity": "0.00100",
        "newClientOrderId": "tw-1", "apiKey": "engine"}})).await;
    assert_eq!(placed["status"], 200, "{placed}");
    assert_eq!(placed["result"]["status"], "NEW");
    assert_eq!(placed["result"]["clientOrderId"], "tw-1");
    let report = next_json(&mut api).await;
    assert_eq!(
        (report["event"]["e"].as_str(), report["event"]["x"].as_str()),
        (Some("executionReport"), Some("NEW"))
    );

    let open = call(&mut api, json!({"id": 3, "method": "openOrders.status", "params": {"symbol": "BTCUSDT", "apiKey": "engine"}})).await;
    assert_eq!(open["result"].as_array().map(Vec::len), Some(1));

    let cross = format!("{:.2}", bid + 1000.0);
    let taken = call(
        &mut api,
        json!({"id": 4, "method": "order.place", "params": {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC", "price": cross,
        "quantity": "0.00100", "newClientOrderId": "tw-2", "apiKey": "engine"}}),
    )
    .await;
    assert_eq!(taken["result"]["status"], "FILLED", "{taken}");
    let mut fills = 0;
    while fills == 0 {
        let ev = next_json(&mut api).await;
        if ev["event"]["x"] == "TRADE" {
            assert_eq!(ev["event"]["c"], "tw-2");
            assert_eq!(ev["event"]["m"], false, "the IOC was the taker");
            fills += 1;
        }
    }

    let (status, accounts) = admin(&venue, "GET", "/admin/account", "");
    assert_eq!(status, 200);
    let engine = accounts["accounts"]
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["api_key"] == "engine")
        .expect("engine account")
        .clone();
    assert_eq!(engine["position"], "0.00100");
    assert_eq!(engine["open_orders"].as_array().map(Vec::len), Some(1));
    assert!(engine["fills"].as_u64() >= Some(1));

    let stale = call(&mut api, json!({"id": 40, "method": "account.status", "params": {"apiKey": "engine", "timestamp": 1, "signature": "x"}})).await;
    assert_eq!(stale["status"], 400, "{stale}");
    assert_eq!(stale["error"]["code"], -1021, "{stale}");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let status = call(&mut api, json!({"id": 41, "method": "account.status", "params": {"apiKey": "engine", "timestamp": now_ms, "signature": "x"}})).await;
    assert_eq!(status["status"], 200, "{status}");
    assert_eq!(
        status["result"]["balances"][0],
        json!({"asset": "BTC", "free": "0.00100", "locked": "0.00000"}),
        "{status}"
    );
    let big_id = call(&mut api, json!({"id": 2305843009213693953u64, "method": "openOrders.status", "params": {"symbol": "BTCUSDT", "apiKey": "engine"}})).await;
    assert_eq!(big_id["status"], 200, "{big_id}");

    let cancel = call(&mut api, json!({"id": 5, "method": "order.cancel", "params": {"symbol": "BTCUSDT", "origClientOrderId": "tw-1", "apiKey": "engine"}})).await;
    assert_eq!(cancel["result"]["status"], "CANCELED", "{cancel}");
    let again = call(&mut api, json!({"id": 6, "method": "order.cancel", "params": {"symbol": "BTCUSDT", "origClientOrderId": "tw-1", "apiKey": "engine"}})).await;
    assert_eq!(
        (again["status"].as_u64(), again["error"]["code"].as_i64()),
        (Some(400), Some(-2011))
    );
    let bad = call(
        &mut api,
        json!({"id": 7, "method": "order.place", "params": {"symbol": "BTCUSDT"}}),
    )
    .await;
    assert_eq!(bad["status"], 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_faults_reach_clients() {
    let venue = start_venue();
    let (status, _) = admin(
        &venue,
        "POST",
        "/admin/fault",
        r#"{"kind":"reject_orders","count":1}"#,
    );
    assert_eq!(status, 200);
    let mut api = connect(&venue, "/ws-api/v3").await;
    let place = |id: u64, coid: &str| {
        json!({"id": id, "method": "order.place", "params": {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "price": "1.00", "quantity": "0.00100",
        "newClientOrderId": coid, "apiKey": "engine"}})
    };
    let rejected = call(&mut api, place(1, "a")).await;
    assert_eq!(rejected["error"]["code"], -2010, "{rejected}");
    let accepted = call(&mut api, place(2, "b")).await;
    assert_eq!(
        accepted["status"], 200,
        "only one order rejected: {accepted}"
    );

    let mut md = connect(&venue, "/ws/btcusdt@bookTicker").await;
    next_json(&mut md).await;
    assert_eq!(
        admin(&venue, "POST", "/admin/fault", r#"{"kind":"malformed"}"#).0,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut malformed = false;
    while !malformed && Instant::now() < deadline {
        if let Some(Ok(Message::Text(t))) = tokio::time::timeout(Duration::from_secs(5), md.next())
            .await
            .expect("frame")
        {
            malformed = serde_json::from_str::<Value>(&t).is_err();
        }
    }
    assert!(malformed, "a malformed frame arrived");

    assert_eq!(
        admin(&venue, "POST", "/admin/fault", r#"{"kind":"disconnect"}"#).0,
        200
    );
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match md.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("closed in time");
    assert!(closed);

    for (body, needle) in [
        (r#"{"kind":"drop_acks"}"#, "count"),
        (r#"{"kind":"drop_acks","count":1000001}"#, "count"),
        (r#"{"kind":"stall"}"#, "ms"),
        (r#"{"kind":"explode"}"#, "explode"),
        ("not json", "JSON"),
        (r#"{"kind":"latency","us":99999999999}"#, "us"),
    ] {
        let (status, v) = admin(&venue, "POST", "/admin/fault", body);
        assert_eq!(status, 400, "{body}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{body}: {v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_acks_withhold_the_answer_but_not_the_action() {
    let venue = start_venue();
    let (status, _) = admin(
        &venue,
        "POST",
        "/admin/fault",
        r#"{"kind":"drop_acks","count":3}"#,
    );
    assert_eq!(status, 200);
    let mut api = connect(&venue, "/ws-api/v3").await;
    let place = |id: u64, coid: &str| {
        json!({"id": id, "method": "order.place", "params": {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "price": "1.00", "quantity": "0.00100",
        "newClientOrderId": coid, "apiKey": "silent"}})
    };
    let cancel = |id: u64, coid: &str| {
        json!({"id": id, "method": "order.cancel", "params": {
        "symbol": "BTCUSDT", "origClientOrderId": coid, "apiKey": "silent"}})
    };
    // Three order requests go unanswered; a ping is not an order request and is answered.
    // Answers leave in request order (and this session has no user-data subscription), so the
    // first frame to arrive is the ping's only if none of the three was answered.
    let ping = json!({"id": 4, "method": "ping"});
    for request in [place(1, "gone"), cancel(2, "gone"), place(3, "rests"), ping] {
        api.send(Message::Text(request.to_string().into()))
            .await
            .expect("send");
    }
    let first = next_json(&mut api).await;
    assert_eq!(
        (first["id"].as_u64(), first["status"].as_u64()),
        (Some(4), Some(200)),
        "{first}"
    );
    let answered = call(&mut api, place(5, "answered")).await;
    assert_eq!(answered["status"], 200, "the count is spent: {answered}");

    // Each unanswered request acted on the book: "gone" was placed and cancelled, "rests" rests.
    let (_, accounts) = admin(&venue, "GET", "/admin/account", "");
    let account = accounts["accounts"]
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["api_key"] == "silent")
        .expect("account")
        .clone();
    let mut open: Vec<&str> = account["open_orders"]
        .as_array()
        .expect("open orders")
        .iter()
        .map(|o| o["clientOrderId"].as_str().expect("id"))
        .collect();
    open.sort_unstable();
    assert_eq!(open, ["answered", "rests"], "{account}");
    let again = call(&mut api, cancel(6, "gone")).await;
    assert_eq!(
        again["error"]["code"], -2011,
        "cancelled while silent: {again}"
    );
}
