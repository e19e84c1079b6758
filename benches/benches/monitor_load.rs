//! Monitor load: does watching the engine slow it down?
//!
//! Starts the real venue simulator, the engine trading on it (config/demo.toml's setup) and the
//! monitor, all release builds, then alternates phases within one run: `idle` (no dashboard
//! client) and `load` (100 WebSocket clients taking every push at 20 Hz, plus one client
//! polling `/api/state` every 10 ms and `/metrics` every second). For each phase it reads the
//! engine's own tick-to-trade histogram from the region (the difference over the phase) and
//! reports p50/p99 per phase and the load/idle ratio, plus what the clients got (pushes/s,
//! /api/state latency). Phases alternate (idle, load, idle, load) so drift on a shared machine
//! hits both sides.
//!
//! Core arrangement (`--split 1`, the default on 2+ cores): the engine runs on the last core
//! (taskset), the venue, the monitor and the clients on the others — as `scripts/launch.sh`
//! arranges a production host, where the monitor never shares the engine's core. `--split 0`
//! lets everything share every core (the worst case on a small VM).
//!
//! `cargo bench -p tickwire-benches --bench monitor_load [-- --phase-secs N --clients N
//! --split 0|1]` writes target/bench/monitor_load.json.

use futures_util::StreamExt;
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwire_benches::{arg, release_dir, workspace};
use tickwire_shm::histogram::HistogramSnapshot;
use tickwire_shm::layout::Stage;
use tickwire_shm::region::RegionReader;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SAFETY: kill(2) with SIGTERM on our own child's pid, not yet reaped.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn build() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "--release", "--quiet", "--bins"])
        .args([
            "-p",
            "tickwire-engine",
            "-p",
            "tickwire-monitor",
            "-p",
            "tickwire-venue",
        ])
        .status()
        .expect("cargo build");
    assert!(status.success(), "release build failed");
}

fn wait_file(path: &Path, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.trim().is_empty() {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Phase {
    name: &'static str,
    count: u64,
    p50_ns: u64,
    p99_ns: u64,
    p999_ns: u64,
    pushes_per_s: f64,
    state_p50_us: u64,
    state_p99_us: u64,
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn tick_to_trade(reader: &RegionReader) -> HistogramSnapshot {
    reader.latency_ticks(Stage::TickToTrade)
}

/// Runs the dashboard load until `stop`: `clients` WebSocket readers and one poller.
fn start_load(
    runtime: &tokio::runtime::Runtime,
    base: &str,
    clients: usize,
    stop: Arc<AtomicBool>,
    pushes: Arc<AtomicU64>,
) -> std::thread::JoinHandle<Vec<u64>> {
    let ws_url = format!("{}/ws", base.replacen("http://", "ws://", 1));
    for _ in 0..clients {
        let (url, stop, pushes) = (ws_url.clone(), Arc::clone(&stop), Arc::clone(&pushes));
        runtime.spawn(async move {
            let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&url).await else {
                return;
            };
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), socket.next()).await {
                    Ok(Some(Ok(_))) => {
                        pushes.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => return,
                    Err(_) => {}
                }
            }
        });
    }
    let base = base.to_string();
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let mut latencies = Vec::new();
        let mut last_metrics = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let start = Instant::now();
            if let Ok(mut r) = agent.get(&format!("{base}/api/state")).call() {
                let _ = r.body_mut().read_to_string();
                latencies.push(start.elapsed().as_micros() as u64);
            }
            if last_metrics.elapsed() >= Duration::from_secs(1) {
                last_metrics = Instant::now();
                if let Ok(mut r) = agent.get(&format!("{base}/metrics")).call() {
                    let _ = r.body_mut().read_to_string();
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        latencies
    })
}

fn main() {
    let phase_secs = arg("--phase-secs", 15);
    let clients = arg("--clients", 100) as usize;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let split = arg("--split", u64::from(cores >= 2)) == 1 && cores >= 2;
    if split {
        // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes bits inside it; the set
        // outlives the sched_setaffinity call on this thread (children inherit it).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for core in 0..cores - 1 {
                libc::CPU_SET(core, &mut set);
            }
            assert_eq!(
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
                0,
                "sched_setaffinity"
            );
        }
    }
    let arrangement = if split {
        format!(
            "engine on core {}, venue + monitor + clients on cores 0..{}",
            cores - 1,
            cores - 2
        )
    } else {
        format!("everything shares all {cores} cores")
    };
    build();
    let bin = release_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();

    let venue = Killed(
        Command::new(bin.join("venue"))
            .args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data.join("venue"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("venue"),
    );
    let info: serde_json::Value = serde_json::from_str(&wait_file(
        &data.join("venue/venue.json"),
        Duration::from_secs(30),
    ))
    .expect("venue.json");
    let field = |k: &str| info[k].as_str().expect("venue.json field").to_string();
    let shm = data.join("region");
    let config = std::fs::read_to_string(workspace().join("config/demo.toml"))
        .expect("demo config")
        .replace("instance = \"demo\"", "instance = \"load\"")
        .replace(
            "run_dir = \"run\"",
            &format!("run_dir = \"{}\"", data.display()),
        )
        .replace(
            "# shm_path = \"/dev/shm/tickwire-demo\"   # the default",
            &format!("shm_path = \"{}\"", shm.display()),
        )
        .replace("wss://127.0.0.1:9443", &field("venue"))
        .replace("https://127.0.0.1:9443", &field("rest"))
        .replace("run/venue/venue-ca.pem", &field("ca_file"));
    std::fs::write(data.join("engine.toml"), config).expect("config");
    let mut engine = if split {
        let mut c = Command::new("taskset");
        c.args(["-c", &(cores - 1).to_string()])
            .arg(bin.join("engine"));
        c
    } else {
        Command::new(bin.join("engine"))
    };
    let _engine = Killed(
        engine
            .args(["run", "--config"])
            .arg(data.join("engine.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("engine"),
    );
    let mut monitor_child = Command::new(bin.join("monitor"))
        .arg("--shm")
        .arg(&shm)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("monitor");
    let stdout = monitor_child.stdout.take().expect("stdout");
    let _monitor = Killed(monitor_child);
    let line = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("monitor address");
        line
    };
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("address")
        .trim_end_matches('/')
        .to_string();

    let deadline = Instant::now() + Duration::from_secs(60);
    let reader = loop {
        if let Ok(r) = RegionReader::open(&shm) {
            if tick_to_trade(&r).count > 50 {
                break r;
            }
        }
        assert!(Instant::now() < deadline, "the engine never traded");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "engine trading; phases of {phase_secs} s, {clients} WebSocket clients under load; {arrangement}"
    );

    // The clients stand in for browsers on other hosts: they run niced, as the monitor does,
    // so the figures show what the monitor costs the engine, not what the harness does.
    // SAFETY: setpriority(2) on the calling thread with a constant niceness; no memory touched.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut phases = Vec::new();
    for name in ["idle", "load", "idle", "load"] {
        let stop = Arc::new(AtomicBool::new(false));
        let pushes = Arc::new(AtomicU64::new(0));
        let poller = (name == "load").then(|| {
            start_load(
                &runtime,
                &base,
                clients,
                Arc::clone(&stop),
                Arc::clone(&pushes),
            )
        });
        std::thread::sleep(Duration::from_secs(1));
        let before = tick_to_trade(&reader);
        let counted_from = pushes.load(Ordering::Relaxed);
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs(phase_secs));
        let window = tick_to_trade(&reader).since(&before);
        let pushed = pushes.load(Ordering::Relaxed) - counted_from;
        let elapsed = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut latencies = poller
            .map(|p| p.join().expect("poller"))
            .unwrap_or_default();
        latencies.sort_unstable();
        let s = reader.summarize(&window);
        phases.push(Phase {
            name,
            count: s.count,
            p50_ns: s.p50_ns,
            p99_ns: s.p99_ns,
            p999_ns: s.p999_ns,
            pushes_per_s: pushed as f64 / elapsed,
            state_p50_us: percentile(&latencies, 0.5),
            state_p99_us: percentile(&latencies, 0.99),
        });
        std::thread::sleep(Duration::from_secs(1));
    }

    println!(
        "{:<6} {:>8} {:>12} {:>12} {:>12} {:>12} {:>14} {:>14}",
        "phase",
        "ticks",
        "t2t p50 ns",
        "t2t p99 ns",
        "t2t p999 ns",
        "pushes/s",
        "state p50 us",
        "state p99 us"
    );
    for p in &phases {
        println!(
            "{:<6} {:>8} {:>12} {:>12} {:>12} {:>12.0} {:>14} {:>14}",
            p.name,
            p.count,
            p.p50_ns,
            p.p99_ns,
            p.p999_ns,
            p.pushes_per_s,
            p.state_p50_us,
            p.state_p99_us
        );
    }
    let mean = |name: &str, f: fn(&Phase) -> u64| {
        let v: Vec<u64> = phases.iter().filter(|p| p.name == name).map(f).collect();
        v.iter().sum::<u64>() as f64 / v.len().max(1) as f64
    };
    let p50_ratio = mean("load", |p| p.p50_ns) / mean("idle", |p| p.p50_ns).max(1.0);
    let p99_ratio = mean("load", |p| p.p99_ns) / mean("idle", |p| p.p99_ns).max(1.0);
    println!("tick-to-trade under dashboard load / idle: p50 x{p50_ratio:.3}, p99 x{p99_ratio:.3}");
    let out = release_dir().parent().expect("target").join("bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    let report = json!({
        "clients": clients,
        "phase_secs": phase_secs,
        "phases": phases.iter().map(|p| json!({
            "phase": p.name, "ticks": p.count, "p50_ns": p.p50_ns, "p99_ns": p.p99_ns,
            "p999_ns": p.p999_ns, "pushes_per_s": p.pushes_per_s,
            "state_p50_us": p.state_p50_us, "state_p99_us": p.state_p99_us,
        })).collect::<Vec<_>>(),
        "load_over_idle": {"p50": p50_ratio, "p99": p99_ratio},
        "cores": cores,
        "arrangement": arrangement,
    });
    std::fs::write(
        out.join("monitor_load.json"),
        serde_json::to_string_pretty(&report).expect("json"),
    )
    .expect("write report");
    drop(venue);
}
