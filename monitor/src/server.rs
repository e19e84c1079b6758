//! The HTTP and WebSocket server (axum on the monitor's own small tokio runtime).
//!
//! Invariants:
//! - No handler touches the region directly except `POST /api/control`, which maps only the
//!   control page; every other route answers from the sampler's last published state, so no
//!   number of clients can slow the engine (the engine never waits on readers anyway).
//! - Blocking work (journal pages, control acknowledgements) runs on the blocking pool, never on
//!   the async workers.
//! - Bounded everywhere: request bodies ([`BODY_LIMIT`]), WebSocket clients ([`MAX_WS_CLIENTS`]),
//!   a send to a slow client ([`WS_SEND_TIMEOUT`]), history pages ([`history::MAX_LIMIT`]).
//! - Control needs the bearer token from the engine's 0600 token file, compared in constant
//!   time; errors are JSON objects with an `error` naming what was wrong.

use crate::history;
use crate::sampler::Shared;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Query, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tickwire_shm::control::{Ack, Command};
use tickwire_shm::region::RegionReader;
use tokio::sync::{watch, Semaphore};

/// Largest request body accepted (control commands are a few bytes).
pub const BODY_LIMIT: usize = 1024;
/// WebSocket clients served at once; more get 503.
pub const MAX_WS_CLIENTS: usize = 1000;
/// A WebSocket client that does not take a message within this is dropped.
pub const WS_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct App {
    /// The sampler's output.
    pub shared: Arc<Shared>,
    /// The region path (for control).
    pub shm: PathBuf,
    /// The engine's control token file.
    pub token_file: Option<PathBuf>,
    /// The engine's journal.
    pub journal: Option<PathBuf>,
    /// Time between WebSocket pushes.
    pub push_period: Duration,
    /// How long to wait for the engine to acknowledge a command.
    pub control_timeout: Duration,
    /// Permits for WebSocket clients.
    pub ws_clients: Arc<Semaphore>,
    /// Becomes `true` when the monitor shuts down (closes WebSocket clients).
    pub shutdown: watch::Receiver<bool>,
}

/// The router with every route of the monitor contract (DESIGN.md).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/app.js",
            get(|| asset("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/app.css",
            get(|| asset("text/css; charset=utf-8", APP_CSS)),
        )
        .route(
            "/vendor/uPlot.iife.min.js",
            get(|| asset("text/javascript; charset=utf-8", UPLOT_JS)),
        )
        .route(
            "/vendor/uPlot.min.css",
            get(|| asset("text/css; charset=utf-8", UPLOT_CSS)),
        )
        .route("/ws", get(ws))
        .route("/api/state", get(api_state))
        .route("/api/history/fills", get(history_fills))
        .route("/api/history/latency", get(history_latency))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/api/control", post(control))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app)
}

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const UPLOT_JS: &str = include_str!("../assets/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/vendor/uPlot.min.css");

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// An API error: a status and a JSON body `{"error": "<what was wrong>"}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    ApiError::new(status, message).into_response()
}

fn json_text(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn api_state(AxumState(app): AxumState<App>) -> Response {
    json_text(StatusCode::OK, app.shared.latest().json.clone())
}

async fn health(AxumState(app): AxumState<App>) -> Response {
    let latest = app.shared.latest();
    let s = &latest.state;
    let body = json!({
        "status": s.engine.status,
        "reason": s.engine.reason,
        "liveness": s.monitor.liveness,
        "heartbeat_age_ms": s.engine.heartbeat_age_ms,
        "reduce_only": s.engine.reduce_only,
        "reduce_only_because": s.engine.reduce_only_because,
        "alarms": s.engine.alarms,
        "error": s.monitor.error,
    });
    match s.monitor.liveness.health_reason() {
        None => (StatusCode::OK, Json(body)).into_response(),
        Some(reason) => {
            let mut body = body;
            body["reason"] = json!(reason);
            body["detail"] = json!(if s.engine.reason.is_empty() {
                s.monitor.error.clone().unwrap_or_default()
            } else {
                s.engine.reason.clone()
            });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

async fn metrics(AxumState(app): AxumState<App>) -> Response {
    match crate::metrics::render(&app.shared.latest().state) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics: {e}"),
        ),
    }
}

async fn history_latency(AxumState(app): AxumState<App>) -> Response {
    Json(json!({ "points": app.shared.history() })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FillsQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

async fn history_fills(
    AxumState(app): AxumState<App>,
    query: Result<Query<FillsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let limit = q.limit.unwrap_or(history::DEFAULT_LIMIT);
    if limit == 0 || limit > history::MAX_LIMIT {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit {limit} out of range 1..={}", history::MAX_LIMIT),
        );
    }
    if q.before.is_some_and(|b| b <= 0) {
        return error(StatusCode::BAD_REQUEST, "before must be a positive row id");
    }
    let Some(journal) = app.journal.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "no journal: start the monitor with --journal FILE",
        );
    };
    if !journal.exists() {
        return error(
            StatusCode::NOT_FOUND,
            format!("journal {} does not exist yet", journal.display()),
        );
    }
    let page = tokio::task::spawn_blocking(move || history::fills(&journal, q.before, limit)).await;
    match page {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(e)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("reading the journal: {e}"),
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("journal task: {e}"),
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlBody {
    cmd: ControlCommand,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ControlCommand {
    Pause,
    Resume,
    Flatten,
    Kill,
}

impl From<ControlCommand> for Command {
    fn from(c: ControlCommand) -> Self {
        match c {
            ControlCommand::Pause => Command::Pause,
            ControlCommand::Resume => Command::Resume,
            ControlCommand::Flatten => Command::Flatten,
            ControlCommand::Kill => Command::Kill,
        }
    }
}

/// Checks the request's bearer token against the token file, in constant time.
fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token_file) = &app.token_file else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "control is off: start the monitor with --token-file FILE",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing Authorization: Bearer <token>",
        ));
    };
    let expected = std::fs::read_to_string(token_file).map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "reading the token file {}: {e} (is the engine running?)",
                token_file.display()
            ),
        )
    })?;
    let expected = expected.trim();
    if expected.is_empty() || !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong token"));
    }
    Ok(())
}

async fn control(AxumState(app): AxumState<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = authorize(&app, &headers) {
        return e.into_response();
    }
    let request: ControlBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "body: {e}; expected {{\"cmd\":\"pause\"|\"resume\"|\"flatten\"|\"kill\"}}"
                ),
            )
        }
    };
    let command = Command::from(request.cmd);
    let shm = app.shm.clone();
    let timeout = app.control_timeout;
    let outcome = tokio::task::spawn_blocking(move || {
        let reader = RegionReader::open(&shm).map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("no engine to control: {e}"),
            )
        })?;
        if !reader.engine_process_alive() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("engine pid {} is gone", reader.pid()),
            ));
        }
        let client = reader.control().map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("mapping the control page: {e}"),
            )
        })?;
        let ticket = client.send(command).map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("control ring: {e}"),
            )
        })?;
        client.wait_ack(ticket, timeout).map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("control ring: {e}"),
            )
        })
    })
    .await;
    let name = command.name();
    match outcome {
        Ok(Ok(Some(Ok(ack)))) => {
            let status = if ack == Ack::Refused || ack == Ack::UnknownCommand {
                StatusCode::CONFLICT
            } else {
                StatusCode::OK
            };
            (status, Json(json!({ "cmd": name, "ack": ack.name() }))).into_response()
        }
        Ok(Ok(Some(Err(code)))) => error(
            StatusCode::BAD_GATEWAY,
            format!("the engine answered {name} with unknown acknowledgement code {code}"),
        ),
        Ok(Ok(None)) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the engine did not acknowledge {name} within {} ms",
                timeout.as_millis()
            ),
        ),
        Ok(Err(e)) => e.into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("control task: {e}"),
        ),
    }
}

async fn ws(AxumState(app): AxumState<App>, upgrade: WebSocketUpgrade) -> Response {
    let Ok(permit) = Arc::clone(&app.ws_clients).try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_WS_CLIENTS} WebSocket clients already connected"),
        );
    };
    upgrade
        .max_message_size(BODY_LIMIT)
        .on_upgrade(move |socket| async move {
            push(socket, app).await;
            drop(permit);
        })
}

async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        tokio::time::timeout(WS_SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

/// Pushes the history once, then each new state at the push rate, until the client goes, is too
/// slow, or the monitor shuts down.
async fn push(mut socket: WebSocket, mut app: App) {
    let history = json!({ "type": "history", "points": app.shared.history() }).to_string();
    if !send(&mut socket, history).await {
        return;
    }
    let mut tick = tokio::time::interval(app.push_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_seq = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let latest = app.shared.latest();
                if latest.state.monitor.seq != last_seq {
                    last_seq = latest.state.monitor.seq;
                    if !send(&mut socket, latest.json.clone()).await {
                        return;
                    }
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = app.shutdown.changed() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
}
