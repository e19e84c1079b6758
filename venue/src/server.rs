//! The venue's network side: market-data streams, the WebSocket API and the REST depth snapshot
//! on one listener (TLS by default, plain TCP for benches), and the admin endpoint on another
//! (loopback only).
//!
//! One task owns the [`Exchange`] and the [`MarketFlow`]; connections talk to it through a
//! command channel and receive market data through a broadcast channel, so the book has a
//! single writer and no locks. A client that falls behind the broadcast is disconnected, as a
//! real venue drops slow consumers.
//!
//! # Routes
//!
//! | route | what |
//! |---|---|
//! | `GET /stream?streams=<s>/<s>` | combined streams (`{"stream":..,"data":..}`) |
//! | `GET /ws/<stream>` | one raw stream |
//! | `GET /ws-api/v3` | WebSocket API: `order.place`, `order.cancel`, `openOrders.status`, `account.status`, `userDataStream.subscribe`, `ping` |
//! | `GET /api/v3/depth?symbol=&limit=` | depth snapshot |
//! | admin `GET /admin/account` | per-account position, open orders, fills |
//! | admin `POST /admin/fault` | `disconnect`, `stall` (`ms`), `gap`, `malformed`, `latency` (`us`), `reject_orders` (`count`), `drop_acks` (`count`) |
//!
//! `drop_acks` withholds the response to the next `count` order requests (`order.place`,
//! `order.cancel`) that reach the exchange: each still acts on the book as usual — the order
//! rests, trades, is rejected or cancelled, and its execution reports go out — only its answer
//! never comes, as when a venue loses a response. The client has to time the request out and
//! find out what happened (a cancel by client order id settles it).
//!
//! Streams: `<symbol>@bookTicker`, `<symbol>@depth@100ms` (also `@depth`), `<symbol>@trade`.

use crate::exchange::{AccountId, Exchange, ExecType, VenueEvent, INJECTED_REJECT};
use crate::flow::{FlowParams, MarketFlow, LIQUIDITY_ACCOUNT, TAKER_ACCOUNT};
use crate::wire::{error_response, ok_response, parse_request, ApiRequest, Symbol};
use anyhow::{Context, Result};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Everything that defines the simulated market.
#[derive(Debug, Clone)]
pub struct VenueSettings {
    /// The instrument.
    pub symbol: Symbol,
    /// Tick size, price units.
    pub tick: i64,
    /// Lot size, quantity units.
    pub lot: i64,
    /// The background market.
    pub flow: FlowParams,
    /// Interval of the background market's steps.
    pub step: Duration,
    /// Interval of depth diffs (`@depth@100ms`).
    pub depth_interval: Duration,
}

/// Which stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum StreamKind {
    BookTicker,
    Depth,
    Trade,
}

#[derive(Debug)]
struct MarketFrame {
    kind: StreamKind,
    payload: String,
}

#[derive(Debug, Default)]
struct Faults {
    /// Wall-clock ms until which market data is withheld.
    stall_until_ms: AtomicU64,
    /// Delay before every outbound market frame, µs.
    latency_us: AtomicU64,
    /// Orders still to reject.
    reject_orders: AtomicU64,
    /// Order requests whose response is still to withhold.
    drop_acks: AtomicU64,
    /// Malformed frames still to send (one per connection that picks it up).
    malformed: AtomicU64,
    /// Drop the next depth diff.
    gap: AtomicBool,
}

enum Command {
    /// A WebSocket API request. The response and, after a subscription, the account's
    /// execution reports go to `session`, in the order the exchange produced them.
    Api {
        id: Value,
        request: ApiRequest,
        session: mpsc::UnboundedSender<String>,
    },
    Snapshot {
        limit: usize,
        reply: oneshot::Sender<Value>,
    },
    Accounts {
        reply: oneshot::Sender<Value>,
    },
}

struct Shared {
    settings: VenueSettings,
    faults: Faults,
    commands: mpsc::Sender<Command>,
    market: broadcast::Sender<Arc<MarketFrame>>,
    disconnect: watch::Sender<u64>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The running venue's addresses.
#[derive(Debug, Clone)]
pub struct VenueHandle {
    /// Market data, WebSocket API and REST.
    pub listen: SocketAddr,
    /// Admin endpoint.
    pub admin: SocketAddr,
}

/// Binds both listeners and serves until the process ends.
///
/// # Errors
///
/// When a listener cannot be bound, or the admin address is not loopback.
pub async fn serve(
    settings: VenueSettings,
    listen: SocketAddr,
    admin: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    ready: impl FnOnce(VenueHandle),
) -> Result<()> {
    anyhow::ensure!(
        admin.ip().is_loopback(),
        "--admin {admin}: the admin endpoint binds loopback only"
    );
    let (commands, command_rx) = mpsc::channel(1024);
    let (market, _) = broadcast::channel(4096);
    let (disconnect, _) = watch::channel(0u64);
    let shared = Arc::new(Shared {
        settings,
        faults: Faults::default(),
        commands,
        market,
        disconnect,
    });
    tokio::spawn(run_exchange(Arc::clone(&shared), command_rx));

    let app = Router::new()
        .route("/stream", get(combined_stream))
        .route("/ws/{stream}", get(raw_stream))
        .route("/ws-api/v3", get(ws_api))
        .route("/api/v3/depth", get(depth_snapshot))
        .with_state(Arc::clone(&shared));
    let admin_app = Router::new()
        .route("/admin/account", get(admin_account))
        .route("/admin/fault", post(admin_fault))
        .with_state(Arc::clone(&shared));

    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("bind {listen}"))?;
    let admin_listener = TcpListener::bind(admin)
        .await
        .with_context(|| format!("bind {admin}"))?;
    let handle = VenueHandle {
        listen: listener.local_addr().context("local address")?,
        admin: admin_listener.local_addr().context("local address")?,
    };
    ready(handle);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(admin_listener, admin_app).await {
            eprintln!("venue: admin server stopped: {e}");
        }
    });
    match tls {
        // Without TCP_NODELAY a response written while the previous one is unacknowledged
        // waits for the client's delayed ACK (up to 40 ms on Linux): Nagle's algorithm. The
        // TLS path sets it on each accepted socket, as this does.
        None => axum::serve(
            listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            }),
            app,
        )
        .await
        .context("serve"),
        Some(config) => serve_tls(listener, app, config).await,
    }
}

async fn serve_tls(
    listener: TcpListener,
    app: Router,
    config: Arc<rustls::ServerConfig>,
) -> Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("venue: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return eprintln!("venue: TLS handshake with {peer} failed: {e}"),
                    Err(_) => return eprintln!("venue: TLS handshake with {peer} timed out"),
                };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                .await
            {
                eprintln!("venue: connection {peer}: {e}");
            }
        });
    }
}

/// The exchange task: the only owner of the book.
async fn run_exchange(shared: Arc<Shared>, mut commands: mpsc::Receiver<Command>) {
    let s = &shared.settings;
    let mut ex = Exchange::new(s.tick, s.lot);
    let mut flow = MarketFlow::new(s.flow.clone());
    let mut accounts: HashMap<String, AccountId> = HashMap::new();
    let mut users: HashMap<AccountId, Vec<mpsc::UnboundedSender<String>>> = HashMap::new();
    let mut step = tokio::time::interval(s.step);
    let mut depth = tokio::time::interval(s.depth_interval);
    let mut last_top = None;
    let mut generated_ids = 0u64;
    loop {
        tokio::select! {
            _ = step.tick() => flow.step(&mut ex, now_ms()),
            _ = depth.tick() => {
                if let Some(changes) = ex.take_depth_changes() {
                    if !shared.faults.gap.swap(false, Ordering::AcqRel) {
                        let payload = s.symbol.depth_update(now_ms(), &changes).to_string();
                        let _ = shared.market.send(Arc::new(MarketFrame { kind: StreamKind::Depth, payload }));
                    }
                }
                continue;
            }
            command = commands.recv() => match command {
                None => return,
                Some(Command::Snapshot { limit, reply }) => {
                    let (bids, asks) = ex.depth(limit);
                    let _ = reply.send(s.symbol.depth_snapshot(ex.update_id(), &bids, &asks));
                }
                Some(Command::Accounts { reply }) => {
                    let list: Vec<Value> = accounts
                        .iter()
                        .map(|(key, &id)| {
                            let a = ex.account(id);
                            let open: Vec<Value> = ex.open_orders(id).iter().map(|o| s.symbol.order_result(o, now_ms())).collect();
                            json!({ "api_key": key, "position": s.symbol.qty(a.position), "fills": a.fills, "open_orders": open })
                        })
                        .collect();
                    let _ = reply.send(json!({ "accounts": list }));
                }
                Some(Command::Api { id, request, session }) => {
                    let order_request =
                        matches!(request, ApiRequest::Place { .. } | ApiRequest::Cancel { .. });
                    let mut account_of = |key: &str| {
                        let next = accounts.len() as AccountId + 1;
                        *accounts.entry(key.to_string()).or_insert(next)
                    };
                    let response = match request {
                        ApiRequest::Ping => ok_response(&id, json!({})),
                        ApiRequest::SubscribeUser { api_key } => {
                            let account = account_of(&api_key);
                            users.entry(account).or_default().push(session.clone());
                            ok_response(&id, json!({ "subscriptionId": 0 }))
                        }
                        ApiRequest::AccountStatus { api_key } => {
                            let account = ex.account(account_of(&api_key));
                            ok_response(&id, json!({
                                "canTrade": true,
                                "balances": [{ "asset": tickwire_feed::binance::base_asset(&s.symbol.name), "free": s.symbol.qty(account.position), "locked": s.symbol.qty(0) }],
                            }))
                        }
                        ApiRequest::MyTrades { api_key, from_id, start_time, end_time, limit } => {
                            let trades = ex.trades(account_of(&api_key), from_id, (start_time, end_time), limit);
                            ok_response(&id, trades.iter().map(|t| s.symbol.trade_result(t)).collect())
                        }
                        ApiRequest::OpenOrders { api_key } => {
                            let account = account_of(&api_key);
                            let open: Vec<Value> = ex.open_orders(account).iter().map(|o| s.symbol.order_result(o, now_ms())).collect();
                            ok_response(&id, Value::Array(open))
                        }
                        ApiRequest::Cancel { api_key, orig_client_order_id } => {
                            let account = account_of(&api_key);
                            match ex.cancel(account, &orig_client_order_id, now_ms()) {
                                Ok(o) => {
                                    let mut result = s.symbol.order_result(&o, now_ms());
                                    result["origClientOrderId"] = json!(orig_client_order_id);
                                    ok_response(&id, result)
                                }
                                Err(e) => error_response(&id, 400, &e),
                            }
                        }
                        ApiRequest::Place { api_key, client_order_id, side, price, qty, tif } => {
                            let account = account_of(&api_key);
                            if take_one(&shared.faults.reject_orders) {
                                error_response(&id, 400, &INJECTED_REJECT)
                            } else {
                                let client = client_order_id.unwrap_or_else(|| {
                                    generated_ids += 1;
                                    format!("venue-{generated_ids}")
                                });
                                match ex.place(account, &client, side, price, qty, tif, now_ms()) {
                                    Ok(o) => ok_response(&id, s.symbol.order_result(&o, now_ms())),
                                    Err(e) => error_response(&id, 400, &e),
                                }
                            }
                        }
                    };
                    if !(order_request && take_one(&shared.faults.drop_acks)) {
                        let _ = session.send(response.to_string());
                    }
                }
            },
        }
        publish(&shared, &mut ex, &mut users, &mut last_top);
    }
}

/// Takes one from a fault's remaining count; `false` when none is left.
fn take_one(remaining: &AtomicU64) -> bool {
    remaining
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

/// Best bid and best ask, each (price, quantity).
type Top = ((i64, i64), (i64, i64));

fn publish(
    shared: &Shared,
    ex: &mut Exchange,
    users: &mut HashMap<AccountId, Vec<mpsc::UnboundedSender<String>>>,
    last_top: &mut Option<Top>,
) {
    route_events(shared, ex, users);
    if let (Some(bid), Some(ask)) = (ex.best_bid(), ex.best_ask()) {
        if *last_top != Some((bid, ask)) {
            *last_top = Some((bid, ask));
            let payload = shared
                .settings
                .symbol
                .book_ticker(ex.update_id(), bid, ask)
                .to_string();
            let _ = shared.market.send(Arc::new(MarketFrame {
                kind: StreamKind::BookTicker,
                payload,
            }));
        }
    }
}

/// Sends an exchange's trades to the market streams and its executions to their accounts.
fn route_events(
    shared: &Shared,
    ex: &mut Exchange,
    users: &mut HashMap<AccountId, Vec<mpsc::UnboundedSender<String>>>,
) {
    let symbol = &shared.settings.symbol;
    for event in ex.take_events() {
        match event {
            VenueEvent::Trade {
                trade_id,
                price,
                qty,
                buyer_is_maker,
                time_ms,
            } => {
                let payload = symbol
                    .trade(trade_id, price, qty, buyer_is_maker, time_ms)
                    .to_string();
                let _ = shared.market.send(Arc::new(MarketFrame {
                    kind: StreamKind::Trade,
                    payload,
                }));
            }
            VenueEvent::Execution {
                ref order,
                exec_type,
                last_qty,
                ..
            } => {
                if order.account == LIQUIDITY_ACCOUNT || order.account == TAKER_ACCOUNT {
                    continue;
                }
                if let Some(subscribers) = users.get_mut(&order.account) {
                    if let Some((_, text)) = symbol.user_data_event(&event) {
                        subscribers.retain(|tx| tx.send(text.clone()).is_ok());
                    }
                }
                debug_assert!(exec_type != ExecType::Trade || last_qty > 0);
            }
        }
    }
}

fn stream_kind(name: &str, symbol: &Symbol) -> Option<StreamKind> {
    let rest = name
        .strip_prefix(&symbol.stream_prefix())?
        .strip_prefix('@')?;
    match rest {
        "bookTicker" => Some(StreamKind::BookTicker),
        "depth" | "depth@100ms" => Some(StreamKind::Depth),
        "trade" => Some(StreamKind::Trade),
        _ => None,
    }
}

async fn combined_stream(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(streams) = query.get("streams") else {
        return (StatusCode::BAD_REQUEST, "missing ?streams=").into_response();
    };
    let mut wanted = Vec::new();
    for name in streams.split('/') {
        match stream_kind(name, &shared.settings.symbol) {
            Some(kind) => wanted.push((kind, name.to_string())),
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("invalid stream name {name:?}"),
                )
                    .into_response()
            }
        }
    }
    ws.on_upgrade(move |socket| market_session(shared, socket, wanted, true))
}

async fn raw_stream(
    State(shared): State<Arc<Shared>>,
    Path(stream): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    match stream_kind(&stream, &shared.settings.symbol) {
        Some(kind) => {
            ws.on_upgrade(move |socket| market_session(shared, socket, vec![(kind, stream)], false))
        }
        None => (
            StatusCode::BAD_REQUEST,
            format!("invalid stream name {stream:?}"),
        )
            .into_response(),
    }
}

async fn market_session(
    shared: Arc<Shared>,
    mut socket: WebSocket,
    wanted: Vec<(StreamKind, String)>,
    combined: bool,
) {
    let mut market = shared.market.subscribe();
    let mut disconnect = shared.disconnect.subscribe();
    loop {
        tokio::select! {
            frame = market.recv() => {
                let frame = match frame {
                    Ok(f) => f,
                    // A consumer that cannot keep up is dropped, as a real venue does.
                    Err(_) => return,
                };
                let Some((_, name)) = wanted.iter().find(|(k, _)| *k == frame.kind) else { continue };
                let faults = &shared.faults;
                if now_ms() < faults.stall_until_ms.load(Ordering::Acquire) {
                    continue;
                }
                let latency = faults.latency_us.load(Ordering::Acquire);
                if latency > 0 {
                    tokio::time::sleep(Duration::from_micros(latency)).await;
                }
                let text = if faults.malformed.load(Ordering::Acquire) > 0
                    && faults.malformed.fetch_sub(1, Ordering::AcqRel) > 0
                {
                    format!("{{\"stream\":\"{name}\",\"data\":{{\"e\":\"trade\",\"p\":")
                } else if combined {
                    format!("{{\"stream\":\"{name}\",\"data\":{}}}", frame.payload)
                } else {
                    frame.payload.clone()
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            _ = disconnect.changed() => return,
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn ws_api(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| api_session(shared, socket))
}

async fn api_session(shared: Arc<Shared>, mut socket: WebSocket) {
    // One outbound channel per session: responses and execution reports leave in the order the
    // exchange produced them, so a balance snapshot never overtakes an earlier fill.
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let mut disconnect = shared.disconnect.subscribe();
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                match parse_request(&text, &shared.settings.symbol, now_ms()) {
                    Err((id, error)) => {
                        let _ = out_tx.send(error_response(&id, 400, &error).to_string());
                    }
                    Ok((id, request)) => {
                        let command = Command::Api { id, request, session: out_tx.clone() };
                        if shared.commands.send(command).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Some(text) = out_rx.recv() => {
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            _ = disconnect.changed() => return,
        }
    }
}

async fn depth_snapshot(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("symbol") != Some(&shared.settings.symbol.name) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "code": -1121, "msg": "Invalid symbol." })),
        )
            .into_response();
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=5000).contains(&n) => n,
        Some(_) => return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "code": -1100, "msg": "Illegal characters found in parameter 'limit'." })),
        )
            .into_response(),
    };
    let (reply, answer) = oneshot::channel();
    if shared
        .commands
        .send(Command::Snapshot { limit, reply })
        .await
        .is_err()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match answer.await {
        Ok(v) => Json(v).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn admin_account(State(shared): State<Arc<Shared>>) -> Response {
    let (reply, answer) = oneshot::channel();
    if shared
        .commands
        .send(Command::Accounts { reply })
        .await
        .is_err()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match answer.await {
        Ok(v) => Json(v).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn admin_fault(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let bad =
        |msg: String| (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response();
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("body is not JSON".into());
    };
    let number = |key: &str| v.get(key).and_then(Value::as_u64);
    let f = &shared.faults;
    match v.get("kind").and_then(Value::as_str) {
        Some("disconnect") => {
            shared.disconnect.send_modify(|n| *n += 1);
        }
        Some("stall") => match number("ms") {
            Some(ms) if ms <= 600_000 => f.stall_until_ms.store(now_ms() + ms, Ordering::Release),
            _ => return bad("stall needs \"ms\": 0..=600000".into()),
        },
        Some("gap") => f.gap.store(true, Ordering::Release),
        Some("malformed") => {
            f.malformed.fetch_add(1, Ordering::AcqRel);
        }
        Some("latency") => match number("us") {
            Some(us) if us <= 10_000_000 => f.latency_us.store(us, Ordering::Release),
            _ => return bad("latency needs \"us\": 0..=10000000".into()),
        },
        Some("reject_orders") => match number("count") {
            Some(n) if n <= 1_000_000 => f.reject_orders.store(n, Ordering::Release),
            _ => return bad("reject_orders needs \"count\": 0..=1000000".into()),
        },
        Some("drop_acks") => match number("count") {
            Some(n) if n <= 1_000_000 => f.drop_acks.store(n, Ordering::Release),
            _ => return bad("drop_acks needs \"count\": 0..=1000000".into()),
        },
        Some(other) => return bad(format!("unknown fault kind {other:?}")),
        None => return bad("missing \"kind\"".into()),
    }
    Json(json!({ "ok": true })).into_response()
}
