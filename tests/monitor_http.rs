//! The monitor's HTTP contract against a real engine and the real `monitor` process: every
//! route's shape and status codes, the WebSocket push, the control round trip with its token,
//! stalled and dead detection, re-attach after an engine restart, hostile region files, and the
//! alert rules and Grafana dashboard naming only metrics that /metrics really exports.

use serde_json::Value;
use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};
use tickwire_shm::layout::{write_str, InstrumentInfo, LAYOUT_VERSION, REGION_SIZE};
use tickwire_shm::region::{RegionInit, RegionWriter};
use tickwire_tests::{http_post, test_config, wait_for, EngineProcess, MonitorProcess};

fn is_decimal(v: &Value, places: usize) -> bool {
    v.as_str().is_some_and(|s| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        digits.split_once('.').is_some_and(|(int, frac)| {
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.len() == places
                && frac.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

fn state(monitor: &MonitorProcess) -> Value {
    let (status, value) = monitor.get_json("/api/state");
    assert_eq!(status, 200, "{value}");
    value
}

/// Sample names in a Prometheus text exposition.
fn exported_metrics(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// Every `tickwire_...` identifier in `text`.
fn metric_names_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("tickwire_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

fn check_alerts_and_dashboard(metrics_text: &str) {
    let exported = exported_metrics(metrics_text);
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let alerts_text =
        std::fs::read_to_string(docs.join("prometheus-alerts.yml")).expect("alerts file");
    let alerts: serde_norway::Value = serde_norway::from_str(&alerts_text).expect("alerts YAML");
    let rules = alerts["groups"][0]["rules"]
        .as_sequence()
        .expect("groups[0].rules");
    let mut alert_names = BTreeSet::new();
    for rule in rules {
        let name = rule["alert"].as_str().expect("alert name");
        let expr = rule["expr"].as_str().expect("expr");
        assert!(
            rule["labels"]["severity"].as_str().is_some(),
            "{name}: severity"
        );
        assert!(
            rule["annotations"]["summary"].as_str().is_some(),
            "{name}: summary"
        );
        let used = metric_names_in(expr);
        assert!(!used.is_empty(), "{name} uses no tickwire metric: {expr}");
        for metric in used {
            assert!(
                exported.contains(&metric),
                "alert {name} uses {metric}, which /metrics does not export"
            );
        }
        alert_names.insert(name.to_string());
    }
    for needed in [
        "TickwireEngineDown",
        "TickwireEngineStalled",
        "TickwireFeedStale",
        "TickwireKillSwitch",
        "TickwireStorageAlarm",
        "TickwireTickToTradeP99High",
    ] {
        assert!(alert_names.contains(needed), "{needed} missing");
    }
    let grafana: Value = serde_json::from_str(
        &std::fs::read_to_string(docs.join("grafana-dashboard.json")).expect("grafana file"),
    )
    .expect("grafana JSON");
    let panels = grafana["panels"].as_array().expect("panels");
    assert!(panels.len() >= 6, "a dashboard worth the name");
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for metric in metric_names_in(expr) {
                assert!(
                    exported.contains(&metric),
                    "panel {} uses {metric}, which /metrics does not export",
                    panel["title"]
                );
            }
        }
    }
}

fn ws_connect(monitor: &MonitorProcess) -> tungstenite::WebSocket<TcpStream> {
    let addr = monitor.base.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (socket, _) =
        tungstenite::client(format!("ws://{addr}/ws"), stream).expect("WebSocket handshake");
    socket
}

fn ws_json(socket: &mut tungstenite::WebSocket<TcpStream>) -> Value {
    loop {
        match socket.read().expect("WebSocket message") {
            tungstenite::Message::Text(text) => {
                return serde_json::from_str(text.as_str()).expect("JSON message")
            }
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
}

#[test]
fn every_route_against_a_live_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(dir.path(), "web", "");
    let shm = dir.path().join("region");
    let token_file = dir.path().join("run/web.token");
    let journal = dir.path().join("run/web.sqlite");
    // The monitor starts first and waits for the region.
    let monitor = MonitorProcess::start(
        &shm,
        &[
            "--token-file",
            token_file.to_str().expect("utf-8"),
            "--journal",
            journal.to_str().expect("utf-8"),
        ],
    );
    let health = monitor.wait_health(503, Duration::from_secs(10));
    assert_eq!(health["reason"], "no region", "{health}");
    let (status, early) = monitor.get_json("/api/state");
    assert_eq!(status, 200);
    assert_eq!(early["engine"]["status"], "no region");
    assert_eq!(early["monitor"]["attached"], false);

    let mut engine = EngineProcess::start(dir.path(), &config);
    monitor.wait_health(200, Duration::from_secs(30));
    let s = wait_for(Duration::from_secs(30), || {
        let s = state(&monitor);
        (s["fills_total"].as_u64() > Some(3) && s["latency_window"].is_object()).then_some(s)
    })
    .expect("fills and a latency window");

    // /api/state: the documented keys, decimal strings, a truthful engine.
    let e = &s["engine"];
    assert_eq!(e["status"], "running", "{e}");
    assert_eq!(e["pid"], engine.child.id());
    assert!(e["heartbeat_age_ms"].as_u64().expect("age") < 1000);
    assert!(e["uptime_s"].is_u64());
    let i = &s["instruments"][0];
    assert_eq!(i["symbol"], "BTCUSDT");
    for key in ["bid", "ask", "last"] {
        assert!(is_decimal(&i[key], 2), "{key}: {i}");
    }
    for key in ["bid_qty", "ask_qty"] {
        assert!(is_decimal(&i[key], 5), "{key}: {i}");
    }
    assert_eq!(i["feed_state"], "live");
    assert_eq!(i["data_source"], "synthetic", "synthetic data is labelled");
    assert!(i["last_msg_age_ms"].as_u64().expect("age") < 1000);
    assert!(s["book"]["BTCUSDT"]["bids"].is_array());
    let p = &s["positions"][0];
    assert!(is_decimal(&p["qty"], 5), "{p}");
    assert!(is_decimal(&p["avg_price"], 2), "{p}");
    assert!(is_decimal(&p["realized_pnl"], 7), "{p}");
    assert!(is_decimal(&p["unrealized_pnl"], 7), "{p}");
    assert!(s["orders"].is_array());
    let f = &s["fills"][0];
    assert!(
        is_decimal(&f["price"], 2) && is_decimal(&f["qty"], 5),
        "{f}"
    );
    assert!(
        f["seq"].as_u64() >= s["fills"][1]["seq"].as_u64(),
        "newest first"
    );
    assert_eq!(s["risk"]["max_position"], "0.05000");
    assert_eq!(s["risk"]["kill_switch"], false);
    for stage in [
        "wire_to_decoded",
        "feed_to_strategy",
        "decide",
        "strategy_to_gateway",
        "encode_to_write",
        "tick_to_trade",
    ] {
        let l = &s["latency"][stage];
        for key in ["count", "p50_ns", "p99_ns", "p999_ns", "max_ns"] {
            assert!(l[key].is_u64(), "{stage}.{key}: {l}");
        }
    }
    assert!(s["latency"]["decide"]["count"].as_u64() > Some(0));
    for key in [
        "messages",
        "gaps",
        "resyncs",
        "reconnects",
        "queue_full",
        "rejects",
        "decode_errors",
        "hot_path_allocations",
    ] {
        assert!(s["counters"][key].is_u64(), "counter {key}");
    }
    assert_eq!(s["counters"]["hot_path_allocations"], 0);

    // /metrics: Prometheus text with tickwire_ names; the alert rules and the Grafana
    // dashboard use only what it exports.
    let (status, metrics) = monitor.get("/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("tickwire_engine_up 1"), "{metrics}");
    assert!(metrics.contains("tickwire_latency_seconds{stage=\"tick_to_trade\",quantile=\"0.99\"}"));
    assert!(metrics.contains("tickwire_position{symbol=\"BTCUSDT\"}"));
    assert!(metrics.contains("tickwire_fills_total "));
    check_alerts_and_dashboard(&metrics);

    // Fill history, paged newest first, from the real journal.
    let (status, page) = monitor.get_json("/api/history/fills?limit=2");
    assert_eq!(status, 200, "{page}");
    let first: Vec<i64> = page["fills"]
        .as_array()
        .expect("fills")
        .iter()
        .map(|f| f["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(first.len(), 2);
    assert!(first[0] > first[1]);
    let before = page["next_before"].as_i64().expect("next page");
    let (status, older) = monitor.get_json(&format!("/api/history/fills?limit=2&before={before}"));
    assert_eq!(status, 200);
    for fill in older["fills"].as_array().expect("fills") {
        assert!(fill["id"].as_i64().expect("id") < first[1], "older page");
        assert!(is_decimal(&fill["price"], 2));
    }
    for bad in [
        "limit=0",
        "limit=501",
        "limit=abc",
        "before=-1",
        "colour=blue",
    ] {
        let (status, body) = monitor.get_json(&format!("/api/history/fills?{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].is_string());
    }

    // The dashboard and its embedded assets.
    let (status, html) = monitor.get("/");
    assert_eq!(status, 200);
    assert!(html.contains("/vendor/uPlot.iife.min.js") && html.contains("/app.js"));
    for asset in [
        "/app.js",
        "/app.css",
        "/vendor/uPlot.iife.min.js",
        "/vendor/uPlot.min.css",
    ] {
        let (status, body) = monitor.get(asset);
        assert_eq!(status, 200, "{asset}");
        assert!(body.len() > 500, "{asset}");
    }

    // WebSocket: the latency history first, then states at the push rate.
    let mut socket = ws_connect(&monitor);
    let history = ws_json(&mut socket);
    assert_eq!(history["type"], "history");
    assert!(!history["points"].as_array().expect("points").is_empty());
    let start = Instant::now();
    let mut last_seq = 0;
    for _ in 0..10 {
        let pushed = ws_json(&mut socket);
        let seq = pushed["monitor"]["seq"].as_u64().expect("seq");
        assert!(seq > last_seq, "each push is a newer state");
        last_seq = seq;
        assert_eq!(pushed["engine"]["pid"], engine.child.id());
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "10 pushes at 20 Hz took {:?}",
        start.elapsed()
    );

    // Control: the bearer token from the engine's 0600 file, nothing else.
    let token = std::fs::read_to_string(&token_file).expect("token file");
    let token = token.trim();
    let (status, body) = monitor.control("pause", None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = monitor.control("pause", Some("not-the-token"));
    assert_eq!(status, 401, "{body}");
    assert_eq!(state(&monitor)["engine"]["status"], "running");
    let (status, body) = monitor.control("pause", Some(token));
    assert_eq!(
        (status, &body["ack"]),
        (200, &Value::from("done")),
        "{body}"
    );
    let paused = wait_for(Duration::from_secs(5), || {
        let s = state(&monitor);
        (s["engine"]["status"] == "paused").then_some(s)
    })
    .expect("paused in /api/state");
    assert_eq!(paused["engine"]["reason"], "operator");
    assert!(
        paused["engine"]["state_age_s"].is_u64(),
        "a pause shows its age"
    );
    let (status, body) = monitor.control("pause", Some(token));
    assert_eq!((status, &body["ack"]), (200, &Value::from("unchanged")));
    let (status, body) = monitor.control("resume", Some(token));
    assert_eq!((status, &body["ack"]), (200, &Value::from("done")));
    let (status, body) = monitor.control("explode", Some(token));
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().expect("error").contains("explode"));
    let auth = format!("Bearer {token}");
    let (status, _) = http_post(
        &format!("{}/api/control", monitor.base),
        &[("Authorization", &auth)],
        &format!("{{\"cmd\":\"pause\",\"pad\":\"{}\"}}", "x".repeat(4096)),
    );
    assert_eq!(status, 413, "oversize control body");

    // A monitor without the token file refuses control outright.
    let no_token = MonitorProcess::start(&shm, &[]);
    let (status, body) = no_token.control("pause", Some(token));
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]
        .as_str()
        .expect("error")
        .contains("--token-file"));

    // SIGTERM stops the monitor promptly even with a WebSocket client connected, and leaves
    // the engine running.
    let mut monitor = monitor;
    // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
    let rc = unsafe { libc::kill(monitor.child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = wait_for(Duration::from_secs(10), || {
        monitor.child.try_wait().expect("try_wait")
    })
    .expect("monitor exits on SIGTERM");
    assert!(status.success(), "{status}");
    drop(socket);
    assert!(
        engine.child.try_wait().expect("try_wait").is_none(),
        "engine unaffected"
    );
    engine.signal(libc::SIGTERM);
    assert!(engine.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn stalled_dead_and_reattach_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(dir.path(), "life", "");
    let shm = dir.path().join("region");
    let mut engine = EngineProcess::start(dir.path(), &config);
    engine.wait_ready();
    let monitor = MonitorProcess::start(
        &shm,
        &[
            "--stale-ms",
            "500",
            "--control-timeout-ms",
            "300",
            "--token-file",
            dir.path().join("run/life.token").to_str().expect("utf-8"),
        ],
    );
    monitor.wait_health(200, Duration::from_secs(30));
    let token = std::fs::read_to_string(dir.path().join("run/life.token")).expect("token");

    // A frozen engine is stalled, not live; commands time out with 504.
    engine.signal(libc::SIGSTOP);
    let health = monitor.wait_health(503, Duration::from_secs(3));
    assert_eq!(health["reason"], "stalled", "{health}");
    assert_eq!(state(&monitor)["engine"]["status"], "stalled");
    let (status, body) = monitor.control("resume", Some(token.trim()));
    assert_eq!(status, 504, "{body}");
    engine.signal(libc::SIGCONT);
    monitor.wait_health(200, Duration::from_secs(5));

    // kill -9: dead within a second, last values kept.
    let before = wait_for(Duration::from_secs(10), || {
        let s = state(&monitor);
        (s["instruments"][0]["bid"] != "0.00").then_some(s)
    })
    .expect("quotes");
    engine.signal(libc::SIGKILL);
    let killed = Instant::now();
    let _ = engine.wait_exit(Duration::from_secs(5));
    let health = monitor.wait_health(503, Duration::from_secs(3));
    let noticed = killed.elapsed();
    assert_eq!(health["reason"], "dead", "{health}");
    assert!(
        noticed < Duration::from_millis(1500),
        "dead noticed after {noticed:?}"
    );
    let dead = state(&monitor);
    assert_eq!(dead["engine"]["status"], "dead");
    assert_eq!(
        dead["instruments"][0]["symbol"], "BTCUSDT",
        "last values kept"
    );
    assert!(is_decimal(&dead["instruments"][0]["bid"], 2));
    assert_eq!(dead["engine"]["pid"], before["engine"]["pid"]);
    let (_, metrics) = monitor.get("/metrics");
    assert!(metrics.contains("tickwire_engine_up 0"), "{metrics}");

    // A new engine (stale lock and region left by the killed one): the monitor follows it.
    let mut second = EngineProcess::start(dir.path(), &config);
    second.wait_ready();
    monitor.wait_health(200, Duration::from_secs(30));
    // Healthy from its first heartbeat; `starting` until its first publication as running.
    let s = wait_for(Duration::from_secs(10), || {
        let s = state(&monitor);
        (s["engine"]["status"] == "running").then_some(s)
    })
    .expect("the new engine reported running within 10 s");
    assert_eq!(s["engine"]["pid"], second.child.id());
    second.signal(libc::SIGTERM);
    assert!(second.wait_exit(Duration::from_secs(10)).success());
    let health = monitor.wait_health(503, Duration::from_secs(3));
    assert_eq!(health["reason"], "stopped", "{health}");
}

fn instrument(symbol: &str, price_decimals: u32) -> InstrumentInfo {
    let mut info = InstrumentInfo {
        price_decimals,
        qty_decimals: 5,
        tick_size: 1,
        lot_size: 1,
        configured: 1,
        ..InstrumentInfo::default()
    };
    write_str(&mut info.symbol, symbol);
    info
}

/// Writes `bytes` to `path` as a new file (a new inode, as a restarted writer makes).
fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[test]
fn hostile_region_files_are_rejected_and_the_monitor_survives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shm = dir.path().join("region");
    let monitor = MonitorProcess::start(&shm, &[]);
    let expect_bad = |what: &str, needle: &str| {
        let mut last = Value::Null;
        let found = wait_for(Duration::from_secs(5), || {
            let (status, body) = monitor.get_json("/health");
            let hit = status == 503
                && body["reason"] == "bad header"
                && body["detail"].as_str().is_some_and(|d| d.contains(needle));
            last = body;
            hit.then_some(())
        });
        assert!(
            found.is_some(),
            "{what}: expected bad header naming {needle:?}, got {last}"
        );
        let print = std::process::Command::new(tickwire_tests::binary("monitor"))
            .arg("--shm")
            .arg(&shm)
            .arg("--print")
            .output()
            .expect("monitor --print");
        let stderr = String::from_utf8_lossy(&print.stderr);
        assert!(!print.status.success(), "{what}: --print must fail");
        assert!(stderr.contains(needle), "{what}: {stderr}");
    };

    replace_file(&shm, &[0x42; 100]);
    expect_bad("truncated", "truncated region");
    replace_file(&shm, &vec![0u8; REGION_SIZE]);
    expect_bad("zeroes", "bad magic");

    // A well-formed region from another writer, then its version changed.
    let real = dir.path().join("real");
    let writer = RegionWriter::create(
        &real,
        &RegionInit {
            instance: "hostile",
            tick_ns_q32: 1 << 32,
            instruments: &[instrument("BTCUSDT", 2)],
        },
    )
    .expect("region");
    let mut bytes = std::fs::read(&real).expect("read region");
    bytes[8..12].copy_from_slice(&(LAYOUT_VERSION + 7).to_ne_bytes());
    replace_file(&shm, &bytes);
    expect_bad(
        "wrong version",
        &format!("layout version {}", LAYOUT_VERSION + 7),
    );
    drop(writer);

    // Valid header, hostile contents: a scale no decimal can have.
    let hostile = RegionWriter::create(
        &dir.path().join("hostile"),
        &RegionInit {
            instance: "hostile",
            tick_ns_q32: u64::MAX,
            instruments: &[instrument("EVIL", 4_000_000_000)],
        },
    )
    .expect("region");
    replace_file(
        &shm,
        &std::fs::read(dir.path().join("hostile")).expect("read"),
    );
    expect_bad("hostile scale", "EVIL");
    drop(hostile);

    assert!(
        monitor.get("/").0 == 200 && monitor.get("/metrics").0 == 200,
        "the monitor still serves"
    );

    // A real engine at the same path: the monitor attaches to it.
    std::fs::remove_file(&shm).expect("remove");
    let mut engine = EngineProcess::start(dir.path(), &test_config(dir.path(), "after", ""));
    engine.wait_ready();
    monitor.wait_health(200, Duration::from_secs(30));
    engine.signal(libc::SIGTERM);
    assert!(engine.wait_exit(Duration::from_secs(10)).success());
}
