//! `engine replay`: per-line results, rejected lines that never stop the replay, and the final
//! book — through the library and through the real binary. Binance: buffering before the
//! snapshot and a gap answered with the next snapshot; Kraken: checksums, a mismatch and the
//! resync on the next snapshot, the depth from the subscription; Coinbase: a sequence gap and
//! the resync on the next snapshot.

use serde_json::Value;
use tickwire_engine::replay::{
    replay, replay_binance, replay_coinbase, replay_kraken, ReplaySummary, ReplayVenue,
};

const DIFF_1: &str = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":101,"u":103,"b":[["100.10","2"]],"a":[["100.30","1.5"]]}}"#;
const DIFF_2: &str = r#"{"e":"depthUpdate","E":2,"s":"BTCUSDT","U":104,"u":105,"b":[["100.10","0"],["100.00","4"]],"a":[]}"#;
const DIFF_GAP: &str = r#"{"e":"depthUpdate","E":3,"s":"BTCUSDT","U":110,"u":112,"b":[["99.90","1"]],"a":[["100.20","0.25"]]}"#;
const TICKER: &str = r#"{"u":105,"s":"BTCUSDT","b":"100.00","B":"4","a":"100.30","A":"1.5"}"#;
const TRADE: &str =
    r#"{"e":"trade","E":4,"s":"BTCUSDT","t":9,"p":"100.30","q":"0.5","T":4,"m":false,"M":true}"#;
const SNAP_1: &str = r#"{"lastUpdateId":102,"bids":[["100.10","1"],["99.00","3"]],"asks":[["100.30","2"],["101.00","1"]]}"#;
const SNAP_2: &str = r#"{"lastUpdateId":111,"bids":[["100.00","5"],["99.90","7"]],"asks":[["100.20","1"],["100.30","1.5"]]}"#;

fn run(input: &[u8], snapshots: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut input = input;
    let mut snaps = snapshots.map(str::as_bytes);
    replay_binance(
        &mut input,
        snaps.as_mut().map(|s| s as &mut dyn std::io::BufRead),
        &mut out,
    )
    .expect("replay");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn lines_gaps_rejections_and_final_book() {
    let mut input = Vec::new();
    for line in [DIFF_1, TICKER, "{not json", DIFF_2, TRADE, DIFF_GAP] {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    input.extend_from_slice(b"{\"u\":1,\"s\":\"BTC\xff\"}\n");
    input.extend_from_slice(b"\n");
    input.extend_from_slice(br#"{"u":106,"s":"BTCUSDT","b":"1","B":"0","a":"2","A":"1"}"#);
    let out = run(&input, Some(&format!("{SNAP_1}\n{SNAP_2}\n")));
    assert_eq!(out.len(), 10);
    assert_eq!(
        out[0],
        serde_json::json!({"line": 1, "ok": true, "event": "depthUpdate"})
    );
    assert_eq!(out[1]["event"], "bookTicker");
    assert_eq!(out[2]["ok"], false);
    assert!(
        out[2]["error"]
            .as_str()
            .expect("error")
            .contains("invalid JSON at byte"),
        "{}",
        out[2]
    );
    assert_eq!(out[3]["event"], "depthUpdate");
    assert!(out[3].get("gap").is_none());
    assert_eq!(out[4]["event"], "trade");
    assert_eq!(
        (out[5]["event"].as_str(), out[5]["gap"].as_bool()),
        (Some("depthUpdate"), Some(true))
    );
    assert!(
        out[6]["error"]
            .as_str()
            .expect("error")
            .contains("invalid UTF-8 at byte"),
        "{}",
        out[6]
    );
    assert_eq!(out[7]["ok"], false, "an empty line is not a message");
    assert_eq!(out[8]["error"], "field \"B\": not positive");
    let summary = &out[9]["summary"];
    assert_eq!(
        (summary["lines"].as_u64(), summary["ok"].as_u64()),
        (Some(9), Some(5))
    );
    assert_eq!(
        (summary["rejected"].as_u64(), summary["gaps"].as_u64()),
        (Some(4), Some(1))
    );
    // After the gap, snapshot 2 (id 111) plus the gap diff (110..112) on top of it.
    let book = &summary["book"]["BTCUSDT"];
    assert_eq!(
        book["bids"],
        serde_json::json!([["100", "5"], ["99.9", "1"]])
    );
    assert_eq!(
        book["asks"],
        serde_json::json!([["100.2", "0.25"], ["100.3", "1.5"]])
    );
}

#[test]
fn order_entry_responses_and_execution_reports() {
    let lines = [
        r#"{"id":7,"status":200,"result":{"symbol":"BTCUSDT","orderId":1,"clientOrderId":"tw1-7","status":"NEW"}}"#,
        r#"{"id":8,"status":400,"error":{"code":-2010,"msg":"Order would immediately match and take."}}"#,
        r#"{"id":9,"status":400,"error":{"code":-9999,"msg":"Something new."}}"#,
        r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1,"s":"BTCUSDT","c":"tw1-7","S":"BUY","o":"LIMIT","f":"GTC","q":"1.0","p":"100.0","x":"TRADE","X":"FILLED","i":4,"l":"1.0","z":"1.0","L":"100.0","t":5,"m":true}}"#,
        r#"{"id":10,"status":400}"#,
    ];
    let out = run(lines.join("\n").as_bytes(), None);
    assert_eq!(out[0]["event"], "response");
    assert_eq!(
        (out[1]["ok"].as_bool(), out[1]["code"].as_i64()),
        (Some(true), Some(-2010))
    );
    assert_eq!(out[1]["msg"], "Order would immediately match and take.");
    assert_eq!(
        out[2]["code"], -9999,
        "unknown venue codes are surfaced as venue errors"
    );
    assert_eq!(
        (out[3]["event"].as_str(), out[3]["execution"].as_str()),
        (Some("executionReport"), Some("TRADE"))
    );
    assert_eq!(
        out[4]["ok"], false,
        "an error response without its error is not a valid message"
    );
}

#[test]
fn diffs_before_any_snapshot_are_buffered_and_ok() {
    let input = format!("{DIFF_1}\n{DIFF_2}\n");
    let out = run(input.as_bytes(), None);
    assert!(out[..2].iter().all(|v| v["ok"] == true), "{out:?}");
    assert_eq!(
        out[2]["summary"]["book"]["BTCUSDT"]["bids"],
        serde_json::json!([])
    );
}

#[test]
fn first_snapshot_and_diffs_sync_the_book() {
    let input = format!("{DIFF_1}\n{DIFF_2}\n");
    let out = run(input.as_bytes(), Some(SNAP_1));
    let book = &out[2]["summary"]["book"]["BTCUSDT"];
    assert_eq!(book["bids"], serde_json::json!([["100", "4"], ["99", "3"]]));
    assert_eq!(
        book["asks"],
        serde_json::json!([["100.3", "1.5"], ["101", "1"]])
    );
    assert_eq!(out[2]["summary"]["gaps"], 0);
}

#[test]
fn the_binary_replays_files_and_fails_only_on_unreadable_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rec.jsonl");
    let snap = dir.path().join("snap.jsonl");
    std::fs::write(&file, format!("{DIFF_1}\n{DIFF_2}\ngarbage\n")).expect("write");
    std::fs::write(&snap, format!("{SNAP_1}\n")).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["replay", "--venue", "binance", "--snapshot"])
        .arg(&snap)
        .arg(&file)
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(text.lines().count(), 4);
    assert!(text
        .lines()
        .last()
        .expect("summary")
        .starts_with("{\"summary\""));
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["replay", "--venue", "binance", "/nonexistent.jsonl"])
        .output()
        .expect("run");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.jsonl"));
}

/// Kraken's `book` examples (MATIC/USD, precision 4 and 8) and a wrong checksum.
const KRAKEN_STATUS: &str = r#"{"channel":"status","data":[{"api_version":"v2","connection_id":12393906104898154338,"system":"online","version":"2.0.4"}],"type":"update"}"#;
const KRAKEN_ACK: &str = r#"{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"MATIC/USD"},"success":true,"time_in":"2023-10-06T17:35:55.219022Z","time_out":"2023-10-06T17:35:55.219067Z"}"#;
const KRAKEN_SNAPSHOT: &str = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5666,"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739},{"price":0.5664,"qty":18724.91513344},{"price":0.5663,"qty":11563.92544914},{"price":0.5662,"qty":14006.65365711},{"price":0.5661,"qty":17454.85679807},{"price":0.566,"qty":18097.1547},{"price":0.5659,"qty":33644.89175666},{"price":0.5658,"qty":148.3464},{"price":0.5657,"qty":606.70854372}],"asks":[{"price":0.5668,"qty":4410.79769741},{"price":0.5669,"qty":4655.40412487},{"price":0.567,"qty":49844.89424998},{"price":0.5671,"qty":24306.41678},{"price":0.5672,"qty":29783.25223475},{"price":0.5673,"qty":57234.71239278},{"price":0.5674,"qty":45065.04744},{"price":0.5675,"qty":5912.76380354},{"price":0.5676,"qty":42514.92434778},{"price":0.5677,"qty":36304.0847022}],"checksum":2439117997,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;
const KRAKEN_UPDATE: &str = r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;
const KRAKEN_HEARTBEAT: &str = r#"{"channel":"heartbeat"}"#;

fn kraken_update(bids: &str, checksum: u32) -> String {
    format!(
        r#"{{"channel":"book","type":"update","data":[{{"symbol":"MATIC/USD","bids":[{bids}],"asks":[],"checksum":{checksum},"timestamp":"2023-10-06T17:35:56.0Z"}}]}}"#
    )
}

fn kraken_lines() -> Vec<String> {
    vec![
        KRAKEN_STATUS.into(),
        KRAKEN_ACK.into(),
        KRAKEN_SNAPSHOT.into(),
        KRAKEN_HEARTBEAT.into(),
        KRAKEN_UPDATE.into(),
        kraken_update(r#"{"price":0.5655,"qty":1}"#, 12345),
        kraken_update(r#"{"price":0.5655,"qty":0}"#, 0),
        "{not json".into(),
        format!(r#"{{"recv_ns":1,"frame":{KRAKEN_SNAPSHOT}}}"#),
        kraken_update(r#"{"price":0.56661,"qty":1}"#, 0),
        KRAKEN_UPDATE.into(),
    ]
}

fn replay_with(
    replay: fn(
        &mut dyn std::io::BufRead,
        &mut dyn std::io::Write,
    ) -> std::io::Result<ReplaySummary>,
    lines: &[String],
) -> Vec<Value> {
    let mut out = Vec::new();
    let input = lines.join("\n");
    replay(&mut input.as_bytes(), &mut out).expect("replay");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn kraken_checksums_mismatch_and_resync() {
    let out = replay_with(replay_kraken, &kraken_lines());
    assert_eq!(out.len(), 12);
    let events: Vec<(&str, &str)> = out[..11]
        .iter()
        .map(|v| {
            (
                v["event"].as_str().unwrap_or("-"),
                v["checksum"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("status", "-"),
            ("subscribe", "-"),
            ("snapshot", "ok"),
            ("heartbeat", "-"),
            ("update", "ok"),
            ("update", "mismatch"),
            ("update", "unsynced"),
            ("-", "-"),
            ("snapshot", "ok"),
            ("-", "-"),
            ("update", "ok"),
        ]
    );
    assert_eq!(
        out[2],
        serde_json::json!({"line": 3, "ok": true, "event": "snapshot", "checksum": "ok"})
    );
    assert!(
        out[7]["error"]
            .as_str()
            .expect("error")
            .contains("invalid JSON at byte"),
        "{}",
        out[7]
    );
    assert_eq!(
        out[9],
        serde_json::json!({"line": 10, "ok": false,
            "error": "bids level 0, field \"price\": more than 4 decimals"})
    );
    let summary = &out[11]["summary"];
    assert_eq!(
        (summary["lines"].as_u64(), summary["ok"].as_u64()),
        (Some(11), Some(9))
    );
    assert_eq!(
        (summary["rejected"].as_u64(), summary["gaps"].as_u64()),
        (Some(2), Some(1))
    );
    let book = &summary["book"]["MATIC/USD"];
    assert_eq!(
        book["bids"],
        serde_json::json!([
            ["0.5666", "4831.75496356"],
            ["0.5665", "6658.22734739"],
            ["0.5664", "18724.91513344"],
            ["0.5663", "11563.92544914"],
            ["0.5662", "14006.65365711"]
        ])
    );
    assert_eq!(
        book["asks"],
        serde_json::json!([
            ["0.5668", "4410.79769741"],
            ["0.5669", "4655.40412487"],
            ["0.567", "49844.89424998"],
            ["0.5671", "24306.41678"],
            ["0.5672", "29783.25223475"]
        ])
    );
}

/// Checksums from Python's `zlib.crc32` over the documented string construction: twelve bids
/// 99.00, 98.90 … 97.90 and asks 100.25 and 100.50 at precisions 2 and 3 (2170301594); the same
/// without 99.00 (4090864475) — which needs the eleventh bid, kept only at depth 25.
#[test]
fn kraken_book_depth_comes_from_the_subscription() {
    let bids: Vec<String> = (0..12)
        .map(|i| {
            format!(
                r#"{{"price":{:.2},"qty":1.125}}"#,
                99.0 - 0.1 * f64::from(i)
            )
        })
        .collect();
    let frame = |kind: &str, bids: &str, checksum: u32| {
        format!(
            r#"{{"channel":"book","type":"{kind}","data":[{{"symbol":"ETH/USD","bids":[{bids}],"asks":[{}],"checksum":{checksum},"timestamp":"2023-10-06T17:35:55.440295Z"}}]}}"#,
            if kind == "snapshot" {
                r#"{"price":100.25,"qty":1.125},{"price":100.50,"qty":2}"#
            } else {
                ""
            }
        )
    };
    let snapshot = frame("snapshot", &bids.join(","), 2_170_301_594);
    let delete_best = frame("update", r#"{"price":99.00,"qty":0}"#, 4_090_864_475);
    let ack = KRAKEN_ACK
        .replace("MATIC/USD", "ETH/USD")
        .replace("\"depth\":10", "\"depth\":25");
    let out = replay_with(replay_kraken, &[ack, snapshot.clone(), delete_best.clone()]);
    assert_eq!(
        (out[1]["checksum"].as_str(), out[2]["checksum"].as_str()),
        (Some("ok"), Some("ok"))
    );
    // Without the acknowledgement the book is kept at the default depth of 10: the eleventh
    // bid is gone and the update's checksum cannot match.
    let out = replay_with(replay_kraken, &[snapshot, delete_best]);
    assert_eq!(
        (out[0]["checksum"].as_str(), out[1]["checksum"].as_str()),
        (Some("ok"), Some("mismatch"))
    );
}

fn coinbase_l2(seq: u64, kind: &str, updates: &[(&str, &str, &str)]) -> String {
    let updates: Vec<String> = updates
        .iter()
        .map(|(side, price, qty)| {
            format!(
                r#"{{"side":"{side}","event_time":"2023-02-09T20:32:50.714964855Z","price_level":"{price}","new_quantity":"{qty}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"BTC-USD","updates":[{}]}}]}}"#,
        updates.join(",")
    )
}

fn coinbase_lines() -> Vec<String> {
    vec![
        r#"{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"subscriptions":{"level2":["BTC-USD"],"heartbeats":["heartbeats"]}}]}"#.into(),
        coinbase_l2(1, "snapshot", &[("bid", "21921.73", "0.06317902"), ("bid", "21921.3", "0.02"), ("offer", "21922.5", "1.5"), ("offer", "21923", "2")]),
        r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":2,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":"3049"}]}"#.into(),
        coinbase_l2(3, "update", &[("offer", "21922.50", "0"), ("bid", "21921.8", "0.5")]),
        "garbage".into(),
        coinbase_l2(6, "update", &[("bid", "21921.9", "1")]),
        coinbase_l2(7, "update", &[("bid", "21921.95", "1")]),
        coinbase_l2(8, "snapshot", &[("bid", "21920", "1"), ("offer", "21925", "0.25")]),
        coinbase_l2(9, "update", &[("bid", "21920.5", "0.1")]),
        coinbase_l2(10, "update", &[("ask", "21926", "1")]),
    ]
}

#[test]
fn coinbase_sequence_gap_and_resync() {
    let out = replay_with(replay_coinbase, &coinbase_lines());
    assert_eq!(out.len(), 11);
    assert_eq!(
        out[1],
        serde_json::json!({"line": 2, "ok": true, "event": "l2_data"})
    );
    let kinds: Vec<&str> = out[..10]
        .iter()
        .map(|v| v["event"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        kinds,
        [
            "subscriptions",
            "l2_data",
            "heartbeats",
            "l2_data",
            "-",
            "l2_data",
            "l2_data",
            "l2_data",
            "l2_data",
            "-"
        ]
    );
    let gaps: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, v)| v["gap"] == true)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        gaps,
        [5],
        "the jump from 3 to 6 (the garbage line's number was lost with it)"
    );
    assert_eq!(out[4]["ok"], false);
    assert_eq!(
        out[9]["error"],
        "event 0, update 0: field \"side\": neither \"bid\" nor \"offer\""
    );
    let summary = &out[10]["summary"];
    assert_eq!(
        (
            summary["lines"].as_u64(),
            summary["ok"].as_u64(),
            summary["rejected"].as_u64(),
            summary["gaps"].as_u64()
        ),
        (Some(10), Some(8), Some(2), Some(1))
    );
    // The book after the second snapshot and its update; nothing of before the gap.
    let book = &summary["book"]["BTC-USD"];
    assert_eq!(
        book["bids"],
        serde_json::json!([["21920.5", "0.1"], ["21920", "1"]])
    );
    assert_eq!(book["asks"], serde_json::json!([["21925", "0.25"]]));
}

#[test]
fn snapshots_files_are_for_binance_only() {
    let mut out = Vec::new();
    let mut snaps: &[u8] = SNAP_1.as_bytes();
    let err = replay(
        ReplayVenue::Kraken,
        &mut KRAKEN_HEARTBEAT.as_bytes(),
        Some(&mut snaps),
        &mut out,
    )
    .expect_err("refused");
    assert!(
        err.to_string().contains("--snapshot is for binance"),
        "{err}"
    );
    assert!(out.is_empty());
}

/// Runs the real binary on `lines` for `venue`.
fn run_binary(venue: &str, lines: &[String]) -> (std::process::Output, Vec<Value>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(format!("{venue}.jsonl"));
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["replay", "--venue", venue])
        .arg(&file)
        .output()
        .expect("run");
    let values = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    (out, values)
}

#[test]
fn the_binary_replays_kraken_and_coinbase() {
    let (kraken, out) = run_binary("kraken", &kraken_lines());
    assert!(
        kraken.status.success(),
        "{}",
        String::from_utf8_lossy(&kraken.stderr)
    );
    assert_eq!(out, replay_with(replay_kraken, &kraken_lines()));
    assert_eq!(out[5]["checksum"], "mismatch");
    let (coinbase, out) = run_binary("coinbase", &coinbase_lines());
    assert!(
        coinbase.status.success(),
        "{}",
        String::from_utf8_lossy(&coinbase.stderr)
    );
    assert_eq!(out, replay_with(replay_coinbase, &coinbase_lines()));
    assert_eq!(out[5]["gap"], true);
    assert_eq!(out[10]["summary"]["gaps"], 1);
}
