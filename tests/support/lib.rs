//! Support for the end-to-end tests: builds the binaries once, starts real engine processes
//! with private configs, waits on their shared-memory region, and never leaves a process
//! behind (every [`EngineProcess`] is killed on drop). Every wait is bounded in time.
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod feed_checks;
pub mod proxy;
pub mod storage;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tickwire_shm::layout::{flags, FeedState};
use tickwire_shm::region::RegionReader;

/// Path of a workspace binary, built once per test process with the same profile as the tests.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps layout")
        .to_path_buf();
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut cmd = Command::new(cargo);
        let package = format!("tickwire-{name}");
        cmd.args(["build", "--quiet", "-p", &package, "--bin", name]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building {name} failed");
        built.push(name.to_string());
    }
    let path = profile_dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Polls `f` every 5 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A config for tests: backoff idle, synthetic feed, paper gateway, files in `dir`.
pub fn test_config(dir: &Path, instance: &str, extra_engine: &str) -> String {
    format!(
        r#"
[engine]
instance = "{instance}"
run_dir = "{run}"
shm_path = "{shm}"
idle = "backoff"
max_park_us = 200
shutdown_timeout_ms = 2000
warmup_events = 1000
{extra_engine}

[feed]
source = "synthetic"
synthetic_rate_hz = 500
seed = 11

[gateway]
mode = "paper"

[risk]
max_position = "0.05"
max_notional = "5000"
max_orders_per_sec = 200
price_band_bps = 100
max_open_orders = 4
stale_feed_ms = 1000

[strategy]
kind = "market-maker"
instrument = "BTCUSDT"
half_spread_ticks = 1
size = "0.01"
skew_ticks_per_size = 1
requote_threshold_ticks = 2

[[instruments]]
symbol = "BTCUSDT"
price_decimals = 2
qty_decimals = 5
tick_size = "0.01"
lot_size = "0.00001"
synthetic_start = "50000.00"
"#,
        run = dir.join("run").display(),
        shm = dir.join("region").display(),
    )
}

/// A running engine process, killed on drop if still alive.
#[derive(Debug)]
pub struct EngineProcess {
    /// The child.
    pub child: Child,
    /// Its region file.
    pub shm: PathBuf,
    /// Its run directory.
    pub run_dir: PathBuf,
    /// Its stderr, captured to a file.
    pub stderr: PathBuf,
}

impl EngineProcess {
    /// Starts `engine run` with `config` written into `dir`.
    pub fn start(dir: &Path, config: &str) -> Self {
        Self::start_with_env(dir, config, &[])
    }

    /// Starts `engine run` with `config` and extra environment variables.
    pub fn start_with_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> Self {
        let config_path = dir.join("engine.toml");
        std::fs::write(&config_path, config).expect("write config");
        let stderr = dir.join(format!(
            "engine-{}.stderr",
            Instant::now().elapsed().as_nanos()
        ));
        let child = Command::new(binary("engine"))
            .args(["run", "--config"])
            .arg(&config_path)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn engine");
        Self {
            child,
            shm: dir.join("region"),
            run_dir: dir.join("run"),
            stderr,
        }
    }

    /// Waits until the engine's region is complete and marked ready.
    pub fn wait_ready(&mut self) -> RegionReader {
        let pid = self.child.id();
        let shm = self.shm.clone();
        let reader = wait_for(Duration::from_secs(30), || {
            let r = RegionReader::open(&shm).ok()?;
            (r.pid() == pid && r.flags() & flags::READY != 0).then_some(r)
        });
        match reader {
            Some(r) => r,
            None => panic!(
                "engine never became ready; exit {:?}; stderr:\n{}",
                self.child.try_wait(),
                self.stderr_text()
            ),
        }
    }

    /// Sends a signal.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({signal})");
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = &mut self.child;
        match wait_for(timeout, || child.try_wait().expect("try_wait")) {
            Some(status) => status,
            None => panic!(
                "engine did not exit within {timeout:?}; stderr:\n{}",
                self.stderr_text()
            ),
        }
    }

    /// Sends SIGTERM and waits for a clean exit (status 0); fails with the engine's stderr
    /// otherwise.
    pub fn stop_cleanly(&mut self, timeout: Duration) {
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(timeout);
        assert!(
            status.success(),
            "exit {status:?}; stderr:\n{}",
            self.stderr_text()
        );
    }

    /// The captured stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether a process with `pid` exists (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Child processes of `pid` (from /proc).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// The feed state of instrument 0, if the region can be read.
pub fn feed_state(r: &RegionReader) -> Option<FeedState> {
    FeedState::from_code(r.market(0).ok()?.feed_state)
}

/// Waits (30 s at most) until instrument 0's feed is live; panics naming `after` otherwise.
pub fn wait_feed_live(r: &RegionReader, after: &str) {
    wait_for(Duration::from_secs(30), || {
        (feed_state(r) == Some(FeedState::Live)).then_some(())
    })
    .unwrap_or_else(|| panic!("feed not live after {after}: {:?}", r.market(0)));
}

/// A running venue simulator, killed on drop.
#[derive(Debug)]
pub struct VenueProcess {
    /// The child.
    pub child: Child,
    /// `wss://host:port` (`ws://` when plain) of streams and the WebSocket API.
    pub ws: String,
    /// `https://host:port` (`http://` when plain) of REST.
    pub rest: String,
    /// `host:port` of the admin endpoint.
    pub admin: String,
    /// The CA certificate to trust (`None` when plain).
    pub ca_file: Option<PathBuf>,
}

impl VenueProcess {
    /// Starts `venue` on free loopback ports (TLS) with its files in `dir`.
    pub fn start(dir: &Path, seed: u64) -> Self {
        Self::launch(dir, seed, &[])
    }

    /// Starts `venue --plain` (`ws://`, `http://`) on free loopback ports, for tests that put
    /// a fault-injecting proxy on the stream.
    pub fn start_plain(dir: &Path, seed: u64) -> Self {
        Self::launch(dir, seed, &["--plain"])
    }

    fn launch(dir: &Path, seed: u64, extra: &[&str]) -> Self {
        let data = dir.join("venue");
        let child = Command::new(binary("venue"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--admin",
                "127.0.0.1:0",
                "--step-ms",
                "5",
            ])
            .args(["--seed", &seed.to_string()])
            .args(extra)
            .arg("--data-dir")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn venue");
        let info_path = data.join("venue.json");
        let info: serde_json::Value = wait_for(Duration::from_secs(30), || {
            serde_json::from_str(&std::fs::read_to_string(&info_path).ok()?).ok()
        })
        .expect("venue started");
        let field = |key: &str| -> Option<String> { info[key].as_str().map(str::to_string) };
        Self {
            child,
            ws: field("venue").expect("venue.json: venue"),
            rest: field("rest").expect("venue.json: rest"),
            admin: field("venue_admin")
                .expect("venue.json: venue_admin")
                .trim_start_matches("http://")
                .to_string(),
            ca_file: field("ca_file").map(PathBuf::from),
        }
    }

    /// The `[feed]` section of an engine config reading this venue.
    pub fn feed_config(&self) -> String {
        format!(
            "[feed]\nsource = \"venue\"\nurl = \"{}/stream\"\nrest_url = \"{}\"\n{}",
            self.ws,
            self.rest,
            self.ca_line()
        )
    }

    /// `ca_file = "..."` and a newline, or nothing when plain.
    pub fn ca_line(&self) -> String {
        self.ca_file
            .as_ref()
            .map(|ca| format!("ca_file = \"{}\"\n", ca.display()))
            .unwrap_or_default()
    }

    /// `GET /admin/account` as JSON.
    pub fn accounts(&self) -> serde_json::Value {
        let (status, body) = http_get(&format!("http://{}/admin/account", self.admin));
        assert_eq!(status, 200, "admin/account: {body}");
        serde_json::from_str(&body).expect("account JSON")
    }

    /// The `[gateway]` section of an engine config trading on this venue as `api_key`.
    pub fn gateway_config(&self, api_key: &str) -> String {
        format!(
            "[gateway]\nmode = \"sim\"\nurl = \"{}/ws-api/v3\"\n{}api_key = \"{api_key}\"\n",
            self.ws,
            self.ca_line()
        )
    }

    /// Posts a fault to the admin endpoint; returns the HTTP status.
    pub fn fault(&self, body: &str) -> u16 {
        http_post(&format!("http://{}/admin/fault", self.admin), &[], body).0
    }
}

impl Drop for VenueProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `test_config` with the `[feed]` section replaced.
pub fn with_feed(config: &str, feed_section: &str) -> String {
    replace_section(config, "[feed]", "\n[gateway]", feed_section)
        .replace("synthetic_start = \"50000.00\"\n", "")
}

/// `config` with the `[gateway]` section replaced.
pub fn with_gateway(config: &str, gateway_section: &str) -> String {
    replace_section(config, "[gateway]", "\n[risk]", gateway_section)
}

fn replace_section(config: &str, header: &str, next: &str, section: &str) -> String {
    let start = config.find(header).expect("section");
    let end = start + config[start..].find(next).expect("next section");
    format!("{}{}{}", &config[..start], section, &config[end..])
}

fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn http_answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
    let mut response = response.expect("HTTP request");
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .expect("HTTP response body");
    (status, body)
}

/// `GET url` with a 10 s timeout: (status, body). Any status is an answer, not a panic.
pub fn http_get(url: &str) -> (u16, String) {
    http_answer(http_agent().get(url).call())
}

/// `POST url` with `headers` and a JSON `body`, 10 s timeout: (status, body).
pub fn http_post(url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut request = http_agent()
        .post(url)
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    http_answer(request.send(body))
}

/// A running `monitor` serving HTTP on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct MonitorProcess {
    /// The child.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl MonitorProcess {
    /// Starts `monitor --shm <shm> --listen 127.0.0.1:0 <args>` and waits for its address.
    pub fn start(shm: &Path, args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(binary("monitor"))
            .arg("--shm")
            .arg(shm)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn monitor");
        let stdout = child.stdout.take().expect("monitor stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the monitor never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("monitor printed its address");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|w| w.trim_end_matches('/').to_string())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Self { child, base }
    }

    /// `GET path`: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&format!("{}{path}", self.base))
    }

    /// `GET path` as JSON: (status, value).
    pub fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get(path);
        let value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path} is not JSON ({e}): {body}"));
        (status, value)
    }

    /// `POST /api/control` with `{"cmd": cmd}` and an optional bearer token: (status, value).
    pub fn control(&self, cmd: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        let (status, body) = http_post(
            &format!("{}/api/control", self.base),
            &headers,
            &format!("{{\"cmd\":\"{cmd}\"}}"),
        );
        let value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("control answer is not JSON ({e}): {body}"));
        (status, value)
    }

    /// Waits until `/health` answers `status`; returns its body.
    pub fn wait_health(&self, status: u16, timeout: Duration) -> serde_json::Value {
        let mut last = None;
        let found = wait_for(timeout, || {
            let (s, body) = self.get_json("/health");
            let hit = s == status;
            last = Some((s, body.clone()));
            hit.then_some(body)
        });
        found.unwrap_or_else(|| panic!("/health never answered {status}; last {last:?}"))
    }
}

impl Drop for MonitorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
