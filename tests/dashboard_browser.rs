//! The real dashboard in headless Chromium, driven through ChromeDriver (WebDriver), against a
//! real engine and the real monitor: live prices that change, a latency chart with data, the
//! pause button (token asked once) pausing the engine and the page showing it, and a killed
//! engine turning the health indicator to dead while the last values stay on the page.
//!
//! Needs `chromium` and `chromedriver` (Debian packages chromium and chromium-driver, which
//! scripts/test.sh installs). Without them the test says so and passes only when
//! `TICKWIRE_REQUIRE_BROWSER` is unset; scripts/test.sh sets it, so CI never skips it.
//! `TICKWIRE_SCREENSHOTS=DIR` saves what the browser saw (docs/ holds such screenshots).

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tickwire_shm::layout::EngineState;
use tickwire_tests::{children_of, test_config, EngineProcess, MonitorProcess};

fn tool(env: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

/// A ChromeDriver on a free loopback port; it and the browsers it started die on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start(chromedriver: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        fn kill_tree(pid: u32) {
            for child in children_of(pid) {
                kill_tree(child);
            }
            // SAFETY: kill(2) with SIGKILL on a pid from /proc; at worst it no longer exists.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        for child in children_of(self.child.id()) {
            kill_tree(child);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &ChromeDriver, chromium: &Path, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1400,1100",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    // ChromeDriver is plain HTTP on loopback; fantoccini still wants a TLS provider chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("TLS roots")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("WebDriver session")
}

/// Evaluates `script` (a function body returning a value) in the page.
async fn eval(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.expect("execute")
}

/// Polls `script` every 100 ms until it returns something truthy, for at most `timeout`.
async fn until(client: &Client, timeout: Duration, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + timeout;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        last = eval(client, script).await;
        let truthy = !matches!(&last, Value::Null | Value::Bool(false)) && last != "" && last != 0;
        if truthy {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not seen within {timeout:?}; last {last}");
}

async fn screenshot(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("TICKWIRE_SCREENSHOTS") {
        let png = client.screenshot().await.expect("screenshot");
        std::fs::write(Path::new(&dir).join(name), png).expect("write screenshot");
    }
}

const BID: &str =
    "const c = document.querySelector('#quotes td.bid'); return c ? c.textContent : null;";
const HEALTH: &str = "return document.getElementById('health').dataset.status || null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_live_state_controls_the_engine_and_shows_death() {
    let (Some(chromium), Some(chromedriver)) = (
        tool("TICKWIRE_CHROMIUM", "/usr/bin/chromium"),
        tool("TICKWIRE_CHROMEDRIVER", "/usr/bin/chromedriver"),
    ) else {
        assert!(
            std::env::var_os("TICKWIRE_REQUIRE_BROWSER").is_none(),
            "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED: no /usr/bin/chromium or /usr/bin/chromedriver (scripts/test.sh installs them)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = EngineProcess::start(dir.path(), &test_config(dir.path(), "browser", ""));
    let reader = engine.wait_ready();
    let token_file = dir.path().join("run/browser.token");
    let monitor = MonitorProcess::start(
        &engine.shm,
        &[
            "--token-file",
            token_file.to_str().expect("utf-8"),
            "--journal",
            dir.path()
                .join("run/browser.sqlite")
                .to_str()
                .expect("utf-8"),
        ],
    );
    monitor.wait_health(200, Duration::from_secs(30));
    let driver = ChromeDriver::start(&chromedriver);
    let client = browser(&driver, &chromium, &dir.path().join("profile")).await;
    client.goto(&monitor.base).await.expect("open dashboard");

    // Live prices that change.
    let first = until(&client, Duration::from_secs(20), "a bid", BID).await;
    until(
        &client,
        Duration::from_secs(20),
        "a changed bid",
        &format!("const c = document.querySelector('#quotes td.bid'); return c && c.textContent !== {first} ? c.textContent : null;"),
    )
    .await;
    assert_eq!(eval(&client, HEALTH).await, "running");
    let source = eval(
        &client,
        "return document.querySelector('#quotes tbody tr').textContent",
    )
    .await;
    assert!(
        source.as_str().is_some_and(|s| s.contains("synthetic")),
        "{source}"
    );

    // The latency chart has data, and the percentile table has every stage.
    until(
        &client,
        Duration::from_secs(20),
        "latency chart points",
        "return window.tickwire.chartPoints() >= 2 ? window.tickwire.chartPoints() : null;",
    )
    .await;
    let stages = eval(
        &client,
        "return document.querySelectorAll('#latency tbody tr').length",
    )
    .await;
    assert_eq!(stages, 6, "six latency stages");
    until(
        &client,
        Duration::from_secs(20),
        "fills on the page",
        "return document.querySelectorAll('#fills tbody tr').length;",
    )
    .await;
    screenshot(&client, "dashboard-live.png").await;

    // Pause: the token is asked once, the engine pauses, the page shows it with its age.
    client
        .find(Locator::Id("btn-pause"))
        .await
        .expect("pause button")
        .click()
        .await
        .expect("click pause");
    let token = std::fs::read_to_string(&token_file).expect("token");
    let input = client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Id("token-input"))
        .await
        .expect("token dialog");
    until(
        &client,
        Duration::from_secs(5),
        "the token dialog",
        "return document.getElementById('token-dialog').open;",
    )
    .await;
    input.send_keys(token.trim()).await.expect("type token");
    client
        .find(Locator::Id("token-save"))
        .await
        .expect("save")
        .click()
        .await
        .expect("click save");
    until(
        &client,
        Duration::from_secs(10),
        "pause acknowledged on the page",
        "return document.getElementById('control-result').textContent.includes('pause: done');",
    )
    .await;
    until(
        &client,
        Duration::from_secs(10),
        "paused health",
        "return document.getElementById('health').dataset.status === 'paused';",
    )
    .await;
    let detail = until(
        &client,
        Duration::from_secs(5),
        "pause age",
        "const t = document.getElementById('status-detail').textContent; return t.includes('paused for') ? t : null;",
    )
    .await;
    assert!(
        detail.as_str().is_some_and(|d| d.contains("operator")),
        "{detail}"
    );
    let engine_state = reader.engine().expect("engine cell").state;
    assert_eq!(
        engine_state,
        EngineState::Paused.code(),
        "the engine itself paused"
    );
    screenshot(&client, "dashboard-paused.png").await;

    // Resume needs no second prompt.
    client
        .find(Locator::Id("btn-resume"))
        .await
        .expect("resume button")
        .click()
        .await
        .expect("click resume");
    until(
        &client,
        Duration::from_secs(10),
        "running again",
        "return document.getElementById('health').dataset.status === 'running';",
    )
    .await;
    let dialog_open = eval(
        &client,
        "return document.getElementById('token-dialog').open",
    )
    .await;
    assert_eq!(dialog_open, false, "the token is asked once");

    // kill -9: the indicator turns dead, the last values stay, greyed, with a banner.
    let bid_before = eval(&client, BID).await;
    assert!(
        bid_before.as_str().is_some_and(|b| b.contains('.')),
        "{bid_before}"
    );
    engine.signal(libc::SIGKILL);
    let _ = engine.wait_exit(Duration::from_secs(5));
    until(
        &client,
        Duration::from_secs(5),
        "dead health",
        "return document.getElementById('health').dataset.status === 'dead';",
    )
    .await;
    assert_eq!(
        eval(
            &client,
            "return document.getElementById('health').textContent"
        )
        .await,
        "dead"
    );
    let banner = until(
        &client,
        Duration::from_secs(3),
        "the stale banner",
        "const b = document.getElementById('banner'); return b.hidden ? null : b.textContent;",
    )
    .await;
    assert!(
        banner
            .as_str()
            .is_some_and(|b| b.contains("Engine dead since")),
        "{banner}"
    );
    let greyed = eval(&client, "return document.body.classList.contains('stale')").await;
    assert_eq!(greyed, true);
    let bid_after = eval(&client, BID).await;
    assert!(
        bid_after.as_str().is_some_and(|b| b.contains('.')),
        "last values kept: {bid_after}"
    );
    let rows = eval(
        &client,
        "return document.querySelectorAll('#positions tbody tr').length",
    )
    .await;
    assert_eq!(rows, 1, "positions kept");
    screenshot(&client, "dashboard-dead.png").await;
    client.close().await.expect("close session");
    drop(monitor);
}
