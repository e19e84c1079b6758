//! The strategy thread's code path takes no lock, calls no logging or printing macro and formats
//! nothing. The allocation half of the discipline is measured (hot_path_allocations.rs); this
//! half is checked on the source of every module the strategy thread executes, outside their
//! `#[cfg(test)]` modules.

const HOT_PATH_SOURCES: &[&str] = &[
    "src/strategy.rs",
    "src/strategy_agent.rs",
    "src/market_maker.rs",
    "src/risk.rs",
    "src/trading.rs",
    "src/clock.rs",
    "../shm/src/seqlock.rs",
    "../shm/src/histogram/mod.rs",
    "../shm/src/control.rs",
    "../gateway/src/lib.rs",
    "../feed/src/event.rs",
    "../feed/src/fixed.rs",
];

const FORBIDDEN: &[&str] = &[
    "Mutex",
    "RwLock",
    "Condvar",
    "println!",
    "eprintln!",
    "print!",
    "eprint!",
    "format!",
    "write!",
    "writeln!",
    "panic!",
    "log::info",
    "log::warn",
    "tracing::",
    "info!",
    "warn!",
    "error!",
    "debug!",
    "to_string(",
    "String::",
    "Vec::",
    "vec!",
    "Box::new",
    "thread::sleep",
    "std::fs",
    "std::io",
];

/// The source with `#[cfg(test)]` modules and comments removed.
fn code_outside_tests(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut skip_depth: Option<i32> = None;
    let mut depth = 0i32;
    let mut pending_cfg_test = false;
    for (i, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("").to_string();
        if line.trim_start().starts_with("#[cfg(") && line.contains("test") {
            pending_cfg_test = true;
        }
        let opens = code.matches('{').count() as i32;
        let closes = code.matches('}').count() as i32;
        if pending_cfg_test && opens > 0 && skip_depth.is_none() {
            skip_depth = Some(depth);
            pending_cfg_test = false;
        }
        depth += opens - closes;
        match skip_depth {
            Some(d) if depth <= d => skip_depth = None,
            Some(_) => {}
            None => out.push((i + 1, code)),
        }
    }
    out
}

#[test]
fn strategy_thread_code_has_no_locks_logging_or_formatting() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut violations = Vec::new();
    for file in HOT_PATH_SOURCES {
        let path = format!("{root}/{file}");
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for (line, code) in code_outside_tests(&source) {
            for token in FORBIDDEN {
                if code.contains(token) && !code.trim_start().starts_with("#[error(") {
                    violations.push(format!("{file}:{line}: `{token}` in: {}", code.trim()));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "hot-path violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_through_test_modules_only() {
    let src = "fn a() { let m = Mutex::new(1); }\n#[cfg(test)]\nmod tests {\n fn b() { println!(\"x\"); }\n}\nfn c() { format!(\"y\"); }\n";
    let kept: Vec<String> = code_outside_tests(src)
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    let all = kept.join("\n");
    assert!(all.contains("Mutex"));
    assert!(all.contains("format!"));
    assert!(!all.contains("println!"));
}
