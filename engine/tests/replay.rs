//! `engine replay --venue binance`: per-line results, buffering before the snapshot, a gap
//! answered with the next snapshot, rejected lines that never stop the replay, and the final
//! book — through the library and through the real binary.

use serde_json::Value;
use tickwire_engine::replay::replay_binance;

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
