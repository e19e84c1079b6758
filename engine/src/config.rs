//! Engine configuration: TOML read with serde, unknown keys rejected, every value validated into
//! the fixed-point units the engine runs on. A bad config is an error naming the key and the
//! problem; nothing falls back to a default silently (optional keys have documented defaults).

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tickwire_shm::layout::{MAX_INSTRUMENTS, MAX_OPEN_ORDERS};

/// Why a config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read config: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, a missing key or a value of the wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the key, line and column).
        message: String,
    },
    /// A value of the right type that is not acceptable.
    #[error("{path}: `{key}`: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

/// How the engine's threads wait when idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdleKind {
    /// Spin without yielding (an isolated core per spinning thread).
    BusySpin,
    /// Spin, yield, then park up to `max_park_us` (shared cores, laptops, CI).
    Backoff,
}

/// Which threads run the hot agents (after Aeron's threading modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Threading {
    /// Feed, strategy and gateway each on a thread of their own (a core each when spinning).
    #[default]
    Dedicated,
    /// Feed, strategy and gateway take turns on the strategy thread: one hot thread for hosts
    /// with one core to give, no thread hops between socket read and order write.
    Shared,
}

/// Where market data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// The in-process synthetic generator; labelled `synthetic` everywhere, never market data.
    Synthetic,
    /// The local venue simulator (Binance wire format over TLS WebSocket).
    Venue,
    /// Binance spot.
    Binance,
}

/// How orders are executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeKind {
    /// Matched in-process against the feed's quotes (see `tickwire_gateway::paper`).
    Paper,
    /// Orders over the WebSocket API of the local venue simulator.
    Sim,
    /// Signed orders over the venue's WebSocket API, with real keys.
    Live,
}

/// Which strategy runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Quotes both sides around mid with inventory skew.
    MarketMaker,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    engine: EngineFile,
    feed: FeedFile,
    gateway: GatewayFile,
    risk: RiskFile,
    strategy: StrategyFile,
    instruments: Vec<InstrumentFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineFile {
    instance: String,
    #[serde(default = "default_run_dir")]
    run_dir: PathBuf,
    shm_path: Option<PathBuf>,
    idle: IdleKind,
    #[serde(default)]
    threading: Threading,
    latency_log: Option<PathBuf>,
    #[serde(default = "default_max_park_us")]
    max_park_us: u64,
    strategy_core: Option<usize>,
    #[serde(default)]
    sched_fifo: bool,
    #[serde(default = "default_publish_interval_us")]
    publish_interval_us: u64,
    #[serde(default = "default_shutdown_timeout_ms")]
    shutdown_timeout_ms: u64,
    #[serde(default = "default_warmup_events")]
    warmup_events: u64,
}

fn default_run_dir() -> PathBuf {
    PathBuf::from("run")
}
fn default_max_park_us() -> u64 {
    50
}
fn default_publish_interval_us() -> u64 {
    1000
}
fn default_shutdown_timeout_ms() -> u64 {
    2000
}
fn default_warmup_events() -> u64 {
    10_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedFile {
    source: SourceKind,
    synthetic_rate_hz: Option<u32>,
    #[serde(default)]
    seed: u64,
    url: Option<String>,
    rest_url: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(default = "default_ping_after_ms")]
    ping_after_ms: u32,
    #[serde(default = "default_dead_after_ms")]
    dead_after_ms: u32,
}

fn default_ping_after_ms() -> u32 {
    2000
}

fn default_dead_after_ms() -> u32 {
    5000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    mode: ModeKind,
    #[serde(default = "default_max_resting")]
    max_resting: usize,
    url: Option<String>,
    ca_file: Option<PathBuf>,
    api_key: Option<String>,
    credentials_file: Option<PathBuf>,
}

fn default_max_resting() -> usize {
    256
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskFile {
    max_position: String,
    max_notional: String,
    max_orders_per_sec: u32,
    price_band_bps: u32,
    max_open_orders: u32,
    stale_feed_ms: u32,
    #[serde(default = "default_order_ack_timeout_ms")]
    order_ack_timeout_ms: u32,
}

fn default_order_ack_timeout_ms() -> u32 {
    2000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StrategyFile {
    kind: StrategyKind,
    instrument: String,
    half_spread_ticks: u32,
    size: String,
    skew_ticks_per_size: u32,
    requote_threshold_ticks: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstrumentFile {
    symbol: String,
    price_decimals: u32,
    qty_decimals: u32,
    tick_size: String,
    lot_size: String,
    synthetic_start: Option<String>,
}

/// A validated instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    /// Symbol as the venue spells it.
    pub symbol: String,
    /// Decimals of prices.
    pub price_decimals: u32,
    /// Decimals of quantities.
    pub qty_decimals: u32,
    /// Price increment, price units (> 0).
    pub tick_size: i64,
    /// Quantity increment, lots (> 0).
    pub lot_size: i64,
    /// Starting mid of the synthetic source, price units.
    pub synthetic_start: Option<i64>,
    /// Largest absolute position, lots.
    pub max_position: i64,
    /// Largest order notional, units of `10^-(price_decimals + qty_decimals)`.
    pub max_notional: i128,
}

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// Instance name (one running engine per name).
    pub instance: String,
    /// Directory for the lock, token and journal files.
    pub run_dir: PathBuf,
    /// The region file.
    pub shm_path: PathBuf,
    /// Idle strategy.
    pub idle: IdleKind,
    /// Which threads run feed, strategy and gateway.
    pub threading: Threading,
    /// Where to write HdrHistogram interval logs of the latency stages, if anywhere.
    pub latency_log: Option<PathBuf>,
    /// Longest park of the backoff strategy, µs.
    pub max_park_us: u64,
    /// Core for the strategy thread.
    pub strategy_core: Option<usize>,
    /// Run the strategy thread under SCHED_FIFO.
    pub sched_fifo: bool,
    /// Minimum interval between state publications to the region, µs.
    pub publish_interval_us: u64,
    /// Longest wait for cancel acknowledgements at shutdown, ms.
    pub shutdown_timeout_ms: u64,
    /// Market events before allocation counting starts.
    pub warmup_events: u64,
}

/// Feed settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSettings {
    /// Source.
    pub source: SourceKind,
    /// Quotes per second per instrument from the synthetic source (0: as fast as the ring takes).
    pub synthetic_rate_hz: u32,
    /// Seed of the synthetic source.
    pub seed: u64,
    /// Combined-stream endpoint (`wss://host:port/stream`) of a venue source.
    pub url: Option<String>,
    /// REST base (`https://host:port`) of a venue source, for depth snapshots.
    pub rest_url: Option<String>,
    /// Extra CA certificate to trust (the local venue's).
    pub ca_file: Option<PathBuf>,
    /// A venue connection that has received nothing for this long is pinged.
    pub ping_after: Duration,
    /// A venue connection that has received nothing (not even the pong) for this long is
    /// dead: closed and reconnected. Catches half-open connections and slow drips.
    pub dead_after: Duration,
}

/// Gateway settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    /// Mode.
    pub mode: ModeKind,
    /// Resting orders the paper venue holds.
    pub max_resting: usize,
    /// WebSocket API endpoint (`wss://host:port/ws-api/v3`) for sim and live.
    pub url: Option<String>,
    /// Extra CA certificate to trust (the local venue's).
    pub ca_file: Option<PathBuf>,
    /// Sim: the account's API key on the simulator (not a secret).
    pub api_key: Option<String>,
    /// Live: key file (API key, then secret; mode 0600). Without it, the keys come from
    /// `TICKWIRE_API_KEY` / `TICKWIRE_API_SECRET`.
    pub credentials_file: Option<PathBuf>,
}

/// Risk limits shared by all instruments (per-instrument ones live in [`Instrument`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskSettings {
    /// Orders per second at most.
    pub max_orders_per_sec: u32,
    /// Price band around mid, bps.
    pub price_band_bps: u32,
    /// Open orders at most.
    pub max_open_orders: u32,
    /// Market data older than this is stale, ms.
    pub stale_feed_ms: u32,
    /// A new order or cancel unacknowledged for longer than this is timed out: the order
    /// becomes unknown and is cancelled by client id; unknown for longer again, the engine
    /// goes reduce-only (see the `strategy` module). Default 2000.
    pub order_ack_timeout_ms: u32,
}

/// Market-maker settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategySettings {
    /// Strategy.
    pub kind: StrategyKind,
    /// Index of the traded instrument.
    pub instrument: usize,
    /// Distance of each quote from the (skewed) mid, ticks.
    pub half_spread_ticks: i64,
    /// Quote size, lots.
    pub size: i64,
    /// Skew of both quotes per `size` of position, ticks (against the position).
    pub skew_ticks_per_size: i64,
    /// Requote when a quote is this many ticks or more from its target.
    pub requote_threshold_ticks: i64,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Engine.
    pub engine: EngineSettings,
    /// Feed.
    pub feed: FeedSettings,
    /// Gateway.
    pub gateway: GatewaySettings,
    /// Risk.
    pub risk: RiskSettings,
    /// Strategy.
    pub strategy: StrategySettings,
    /// Instruments, in index order.
    pub instruments: Vec<Instrument>,
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file, the key and the problem.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates config text (`path` is used in messages only).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Parse`] or [`ConfigError::Invalid`].
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |key: &str, problem: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            problem,
        };
        Validator { invalid: &invalid }.config(file)
    }
}

impl Config {
    /// Applies command-line placement overrides (`--strategy-core`, `--sched-fifo`).
    ///
    /// # Errors
    ///
    /// When the core does not exist on this host.
    pub fn override_placement(
        &mut self,
        core: Option<usize>,
        sched_fifo: bool,
    ) -> Result<(), String> {
        if let Some(core) = core {
            let cores = crate::host::online_cpus();
            if core >= cores {
                return Err(format!(
                    "--strategy-core {core}: this host has {cores} cores"
                ));
            }
            self.engine.strategy_core = Some(core);
        }
        self.engine.sched_fifo |= sched_fifo;
        Ok(())
    }
}

struct Validator<'a> {
    invalid: &'a dyn Fn(&str, String) -> ConfigError,
}

impl Validator<'_> {
    fn fixed(&self, key: &str, text: &str, decimals: u32) -> Result<i64, ConfigError> {
        tickwire_feed::parse_decimal(text.as_bytes(), decimals)
            .map_err(|e| (self.invalid)(key, format!("{text:?}: {e}")))
    }

    fn positive(&self, key: &str, text: &str, decimals: u32) -> Result<i64, ConfigError> {
        let v = self.fixed(key, text, decimals)?;
        if v <= 0 {
            return Err((self.invalid)(
                key,
                format!("{text:?} must be greater than zero"),
            ));
        }
        Ok(v)
    }

    fn range(&self, key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
        if value < min || value > max {
            return Err((self.invalid)(
                key,
                format!("{value} is outside {min}..={max}"),
            ));
        }
        Ok(())
    }

    fn config(&self, f: File) -> Result<Config, ConfigError> {
        let e = &f.engine;
        if e.instance.is_empty()
            || e.instance.len() > 31
            || !e
                .instance
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err((self.invalid)(
                "engine.instance",
                format!("{:?} must be 1-31 characters of [A-Za-z0-9_-]", e.instance),
            ));
        }
        self.range("engine.max_park_us", e.max_park_us, 1, 1_000_000)?;
        self.range(
            "engine.publish_interval_us",
            e.publish_interval_us,
            10,
            1_000_000,
        )?;
        self.range(
            "engine.shutdown_timeout_ms",
            e.shutdown_timeout_ms,
            1,
            60_000,
        )?;
        if let Some(core) = e.strategy_core {
            let cores = crate::host::online_cpus();
            if core >= cores {
                return Err((self.invalid)(
                    "engine.strategy_core",
                    format!("core {core} does not exist (this host has {cores})"),
                ));
            }
        }
        if f.instruments.is_empty() || f.instruments.len() > MAX_INSTRUMENTS {
            return Err((self.invalid)(
                "instruments",
                format!(
                    "{} given, 1..={MAX_INSTRUMENTS} allowed",
                    f.instruments.len()
                ),
            ));
        }
        self.range(
            "risk.max_open_orders",
            u64::from(f.risk.max_open_orders),
            1,
            MAX_OPEN_ORDERS as u64,
        )?;
        self.range(
            "risk.max_orders_per_sec",
            u64::from(f.risk.max_orders_per_sec),
            1,
            1_000_000,
        )?;
        self.range(
            "risk.price_band_bps",
            u64::from(f.risk.price_band_bps),
            1,
            10_000,
        )?;
        self.range(
            "risk.stale_feed_ms",
            u64::from(f.risk.stale_feed_ms),
            1,
            3_600_000,
        )?;
        self.range(
            "risk.order_ack_timeout_ms",
            u64::from(f.risk.order_ack_timeout_ms),
            1,
            60_000,
        )?;
        self.range(
            "gateway.max_resting",
            f.gateway.max_resting as u64,
            1,
            1_000_000,
        )?;
        let g = &f.gateway;
        match g.mode {
            ModeKind::Paper => {
                for (key, set) in [
                    ("gateway.url", g.url.is_some()),
                    ("gateway.ca_file", g.ca_file.is_some()),
                    ("gateway.api_key", g.api_key.is_some()),
                    ("gateway.credentials_file", g.credentials_file.is_some()),
                ] {
                    if set {
                        return Err((self.invalid)(
                            key,
                            "does not apply to mode = \"paper\"".into(),
                        ));
                    }
                }
            }
            ModeKind::Sim | ModeKind::Live => {
                let url = g.url.as_deref().ok_or_else(|| {
                    (self.invalid)(
                        "gateway.url",
                        "required for mode sim and live (wss://host:port/ws-api/v3)".into(),
                    )
                })?;
                tickwire_feed::ws::parse_url(url)
                    .map_err(|e| (self.invalid)("gateway.url", e.to_string()))?;
                if let Some(ca) = &g.ca_file {
                    tickwire_feed::ws::tls_config(Some(ca))
                        .map_err(|e| (self.invalid)("gateway.ca_file", e.to_string()))?;
                }
                if g.mode == ModeKind::Sim && g.credentials_file.is_some() {
                    return Err((self.invalid)(
                        "gateway.credentials_file",
                        "real keys are for mode = \"live\" only".into(),
                    ));
                }
                if g.mode == ModeKind::Live && g.api_key.is_some() {
                    return Err((self.invalid)(
                        "gateway.api_key",
                        "live keys come from credentials_file or the environment, never the config"
                            .into(),
                    ));
                }
            }
        }
        let feed = &f.feed;
        let synthetic_rate_hz = match (feed.source, feed.synthetic_rate_hz) {
            (SourceKind::Synthetic, None) => {
                return Err((self.invalid)(
                    "feed.synthetic_rate_hz",
                    "required when feed.source = \"synthetic\"".into(),
                ))
            }
            (SourceKind::Synthetic, Some(hz)) => hz,
            (_, Some(_)) => {
                return Err((self.invalid)(
                    "feed.synthetic_rate_hz",
                    "only applies to feed.source = \"synthetic\"".into(),
                ))
            }
            (_, None) => 0,
        };
        if feed.source != SourceKind::Synthetic {
            for (key, url, expect) in [
                ("feed.url", &feed.url, "wss://host:port/stream"),
                ("feed.rest_url", &feed.rest_url, "https://host:port"),
            ] {
                let Some(url) = url else {
                    return Err((self.invalid)(
                        key,
                        format!("required for a venue source ({expect})"),
                    ));
                };
                tickwire_feed::ws::parse_url(url)
                    .map_err(|e| (self.invalid)(key, e.to_string()))?;
            }
            if feed
                .url
                .as_deref()
                .is_some_and(|u| !u.trim_end_matches('/').ends_with("/stream"))
            {
                return Err((self.invalid)(
                    "feed.url",
                    "must be the combined-stream endpoint ending in /stream".into(),
                ));
            }
        }
        self.range(
            "feed.ping_after_ms",
            u64::from(feed.ping_after_ms),
            100,
            60_000,
        )?;
        self.range(
            "feed.dead_after_ms",
            u64::from(feed.dead_after_ms),
            u64::from(feed.ping_after_ms) + 100,
            300_000,
        )?;
        if let Some(ca) = &feed.ca_file {
            tickwire_feed::ws::tls_config(Some(ca))
                .map_err(|e| (self.invalid)("feed.ca_file", e.to_string()))?;
        }

        let mut instruments = Vec::with_capacity(f.instruments.len());
        for (i, ins) in f.instruments.iter().enumerate() {
            let key = |k: &str| format!("instruments[{i}].{k}");
            if ins.symbol.is_empty() || ins.symbol.len() > 15 {
                return Err((self.invalid)(
                    &key("symbol"),
                    format!("{:?} must be 1-15 bytes", ins.symbol),
                ));
            }
            if instruments
                .iter()
                .any(|x: &Instrument| x.symbol == ins.symbol)
            {
                return Err((self.invalid)(
                    &key("symbol"),
                    format!("{:?} is listed twice", ins.symbol),
                ));
            }
            self.range(&key("price_decimals"), u64::from(ins.price_decimals), 0, 12)?;
            self.range(&key("qty_decimals"), u64::from(ins.qty_decimals), 0, 12)?;
            let tick_size = self.positive(&key("tick_size"), &ins.tick_size, ins.price_decimals)?;
            let lot_size = self.positive(&key("lot_size"), &ins.lot_size, ins.qty_decimals)?;
            let synthetic_start = match &ins.synthetic_start {
                Some(t) => Some(self.positive(&key("synthetic_start"), t, ins.price_decimals)?),
                None if f.feed.source == SourceKind::Synthetic => {
                    return Err((self.invalid)(
                        &key("synthetic_start"),
                        "required when feed.source = \"synthetic\"".to_string(),
                    ))
                }
                None => None,
            };
            let max_position =
                self.positive("risk.max_position", &f.risk.max_position, ins.qty_decimals)?;
            let max_notional = i128::from(self.positive(
                "risk.max_notional",
                &f.risk.max_notional,
                ins.price_decimals + ins.qty_decimals,
            )?);
            instruments.push(Instrument {
                symbol: ins.symbol.clone(),
                price_decimals: ins.price_decimals,
                qty_decimals: ins.qty_decimals,
                tick_size,
                lot_size,
                synthetic_start,
                max_position,
                max_notional,
            });
        }

        let s = &f.strategy;
        let instrument = instruments
            .iter()
            .position(|x| x.symbol == s.instrument)
            .ok_or_else(|| {
                (self.invalid)(
                    "strategy.instrument",
                    format!(
                        "{:?} is not one of the configured instruments",
                        s.instrument
                    ),
                )
            })?;
        let traded = &instruments[instrument];
        self.range(
            "strategy.half_spread_ticks",
            u64::from(s.half_spread_ticks),
            1,
            1_000_000,
        )?;
        self.range(
            "strategy.requote_threshold_ticks",
            u64::from(s.requote_threshold_ticks),
            1,
            1_000_000,
        )?;
        self.range(
            "strategy.skew_ticks_per_size",
            u64::from(s.skew_ticks_per_size),
            0,
            1_000_000,
        )?;
        let size = self.positive("strategy.size", &s.size, traded.qty_decimals)?;
        if size % traded.lot_size != 0 {
            return Err((self.invalid)(
                "strategy.size",
                format!(
                    "{:?} is not a multiple of the lot size {}",
                    s.size, traded.lot_size
                ),
            ));
        }
        if size > traded.max_position {
            return Err((self.invalid)(
                "strategy.size",
                format!(
                    "{:?} exceeds risk.max_position {:?}",
                    s.size, f.risk.max_position
                ),
            ));
        }

        let shm_path = e
            .shm_path
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/dev/shm/tickwire-{}", e.instance)));
        Ok(Config {
            engine: EngineSettings {
                instance: e.instance.clone(),
                run_dir: e.run_dir.clone(),
                shm_path,
                idle: e.idle,
                threading: e.threading,
                latency_log: e.latency_log.clone(),
                max_park_us: e.max_park_us,
                strategy_core: e.strategy_core,
                sched_fifo: e.sched_fifo,
                publish_interval_us: e.publish_interval_us,
                shutdown_timeout_ms: e.shutdown_timeout_ms,
                warmup_events: e.warmup_events,
            },
            feed: FeedSettings {
                source: f.feed.source,
                synthetic_rate_hz,
                seed: f.feed.seed,
                url: f.feed.url.clone(),
                rest_url: f.feed.rest_url.clone(),
                ca_file: f.feed.ca_file.clone(),
                ping_after: Duration::from_millis(u64::from(f.feed.ping_after_ms)),
                dead_after: Duration::from_millis(u64::from(f.feed.dead_after_ms)),
            },
            gateway: GatewaySettings {
                mode: f.gateway.mode,
                max_resting: f.gateway.max_resting,
                url: f.gateway.url.clone(),
                ca_file: f.gateway.ca_file.clone(),
                api_key: f.gateway.api_key.clone(),
                credentials_file: f.gateway.credentials_file.clone(),
            },
            risk: RiskSettings {
                max_orders_per_sec: f.risk.max_orders_per_sec,
                price_band_bps: f.risk.price_band_bps,
                max_open_orders: f.risk.max_open_orders,
                stale_feed_ms: f.risk.stale_feed_ms,
                order_ack_timeout_ms: f.risk.order_ack_timeout_ms,
            },
            strategy: StrategySettings {
                kind: s.kind,
                instrument,
                half_spread_ticks: i64::from(s.half_spread_ticks),
                size,
                skew_ticks_per_size: i64::from(s.skew_ticks_per_size),
                requote_threshold_ticks: i64::from(s.requote_threshold_ticks),
            },
            instruments,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid config for tests; `extra` is spliced in to vary it.
    pub(crate) const VALID: &str = r#"
[engine]
instance = "unit"
idle = "backoff"

[feed]
source = "synthetic"
synthetic_rate_hz = 1000
seed = 7

[gateway]
mode = "paper"

[risk]
max_position = "0.05"
max_notional = "5000"
max_orders_per_sec = 100
price_band_bps = 200
max_open_orders = 4
stale_feed_ms = 1000

[strategy]
kind = "market-maker"
instrument = "BTCUSDT"
half_spread_ticks = 5
size = "0.01"
skew_ticks_per_size = 2
requote_threshold_ticks = 2

[[instruments]]
symbol = "BTCUSDT"
price_decimals = 2
qty_decimals = 5
tick_size = "0.01"
lot_size = "0.00001"
synthetic_start = "50000.00"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("test.toml"), text)
    }

    #[test]
    fn valid_config_is_converted_to_fixed_point() {
        let c = parse(VALID).expect("valid");
        let i = &c.instruments[0];
        assert_eq!((i.tick_size, i.lot_size, i.max_position), (1, 1, 5_000));
        assert_eq!(i.synthetic_start, Some(5_000_000));
        assert_eq!(i.max_notional, 5000 * 10i128.pow(7));
        assert_eq!(c.strategy.size, 1_000);
        assert_eq!(c.engine.shm_path, PathBuf::from("/dev/shm/tickwire-unit"));
        assert_eq!(c.engine.publish_interval_us, 1000);
        assert_eq!(c.risk.order_ack_timeout_ms, 2000, "the default");
        let set = parse(&VALID.replacen(
            "stale_feed_ms = 1000",
            "stale_feed_ms = 1000\norder_ack_timeout_ms = 250",
            1,
        ))
        .expect("valid");
        assert_eq!(set.risk.order_ack_timeout_ms, 250);
    }

    fn error_of(text: &str) -> String {
        parse(text).expect_err("must be rejected").to_string()
    }

    #[test]
    fn errors_name_the_key_and_the_problem() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "idle = \"backoff\"",
                "idle = \"backoff\"\nturbo = true",
                &["unknown field", "turbo"],
            ),
            (
                "idle = \"backoff\"",
                "idle = \"sleepy\"",
                &["sleepy", "busy-spin"],
            ),
            (
                "max_open_orders = 4",
                "max_open_orders = 400",
                &["risk.max_open_orders", "400"],
            ),
            (
                "max_open_orders = 4",
                "max_open_orders = \"4\"",
                &["max_open_orders", "invalid type"],
            ),
            (
                "size = \"0.01\"",
                "size = \"0.000001\"",
                &["strategy.size", "0.000001"],
            ),
            ("size = \"0.01\"", "size = \"-1\"", &["strategy.size"]),
            (
                "size = \"0.01\"",
                "size = \"1\"",
                &["strategy.size", "max_position"],
            ),
            (
                "instrument = \"BTCUSDT\"",
                "instrument = \"ETHUSDT\"",
                &["strategy.instrument", "ETHUSDT"],
            ),
            (
                "tick_size = \"0.01\"",
                "tick_size = \"abc\"",
                &["instruments[0].tick_size", "abc"],
            ),
            (
                "instance = \"unit\"",
                "instance = \"../etc\"",
                &["engine.instance"],
            ),
            ("mode = \"paper\"", "mode = \"fast\"", &["fast", "paper"]),
            (
                "mode = \"paper\"",
                "mode = \"sim\"",
                &["gateway.url", "required"],
            ),
            (
                "mode = \"paper\"",
                "mode = \"paper\"\nurl = \"wss://h:1/ws-api/v3\"",
                &["gateway.url", "does not apply"],
            ),
            (
                "mode = \"paper\"",
                "mode = \"live\"\nurl = \"wss://h:1/ws-api/v3\"\napi_key = \"k\"",
                &["gateway.api_key", "never the config"],
            ),
            (
                "synthetic_start = \"50000.00\"",
                "",
                &["instruments[0].synthetic_start", "required"],
            ),
            (
                "stale_feed_ms = 1000",
                "stale_feed_ms = 1000\norder_ack_timeout_ms = 0",
                &["risk.order_ack_timeout_ms", "0 is outside 1..=60000"],
            ),
            (
                "stale_feed_ms = 1000",
                "stale_feed_ms = 1000\norder_ack_timeout_ms = 60001",
                &["risk.order_ack_timeout_ms", "60001"],
            ),
            (
                "stale_feed_ms = 1000",
                "stale_feed_ms = 1000\norder_ack_timeout_ms = \"2s\"",
                &["order_ack_timeout_ms", "invalid type"],
            ),
            (
                "stale_feed_ms = 1000",
                "stale_feed_ms = 1000\nack_timeout_ms = 100",
                &["unknown field", "ack_timeout_ms"],
            ),
            (
                "seed = 7",
                "seed = 7\nping_after_ms = 50",
                &["feed.ping_after_ms", "50 is outside 100..=60000"],
            ),
            (
                "seed = 7",
                "seed = 7\nping_after_ms = 3000\ndead_after_ms = 3000",
                &["feed.dead_after_ms", "3000 is outside 3100..=300000"],
            ),
        ];
        for (from, to, needles) in cases {
            assert!(VALID.contains(from), "{from}");
            let msg = error_of(&VALID.replacen(from, to, 1));
            for n in *needles {
                assert!(msg.contains(n), "{to:?}: {msg:?} lacks {n:?}");
            }
            assert!(msg.starts_with("test.toml"), "{msg}");
        }
        assert!(error_of("not toml [").contains("test.toml"));
        assert!(error_of("").contains("missing field"));
    }

    #[test]
    fn every_shipped_config_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        // The demo's CA is written by the venue at its start; stand in for it.
        let ca = tempfile::NamedTempFile::new().expect("ca file");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        std::fs::write(ca.path(), cert.cert.pem()).expect("write ca");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("config dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path)
                    .expect("read")
                    .replace("run/venue/venue-ca.pem", &ca.path().display().to_string());
                Config::parse(&path, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 3, "config/*.toml found: {seen}");
    }
}
