//! `engine check-host` as an operator runs it: the tuning table for a core, the jitter
//! measurement when asked for, and the refusal a launch script relies on.

use std::process::Command;
use tickwire_tests::binary;

fn check_host(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(binary("engine"))
        .arg("check-host")
        .args(args)
        .output()
        .expect("run engine check-host");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn reports_the_table_and_the_cores_jitter_when_asked() {
    let (code, text) = check_host(&["--core", "0", "--jitter-secs", "1"]);
    assert_eq!(code, Some(0), "{text}");
    for item in ["isolcpus", "nohz_full", "sched_rt_runtime_us"] {
        assert!(text.contains(item), "no {item} row:\n{text}");
    }
    assert!(text.contains("jitter on core 0 over 1."), "{text}");
    assert!(text.contains("time lost"), "{text}");

    let (code, text) = check_host(&["--core", "0"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        !text.contains("jitter on"),
        "no jitter unless asked:\n{text}"
    );
}

#[test]
fn a_core_the_host_does_not_have_is_refused() {
    let (code, text) = check_host(&["--core", "4096", "--jitter-secs", "1"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("core 4096 does not exist"), "{text}");
    assert!(text.contains("--core 4096: this host has"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
