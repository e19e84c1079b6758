//! Host tuning checks for a low-latency run (`engine check-host`): reads what the kernel and
//! the machine say about the chosen strategy core and reports what is tuned and what to change.
//!
//! Facts are gathered from `/proc` and `/sys` into [`HostFacts`]; [`evaluate`] is a pure
//! function of those facts, so the advice is tested without a tuned machine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What a check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Tuned for low latency.
    Ok,
    /// Costs latency or jitter; the advice says what to change.
    Change,
    /// Could not be read here, or not applicable.
    Unknown,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCheck {
    /// What was checked.
    pub item: &'static str,
    /// What was found.
    pub value: String,
    /// The conclusion.
    pub verdict: Verdict,
    /// What to change (empty when nothing).
    pub advice: String,
}

/// Raw facts about the host (`None`: could not be read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// Online CPUs.
    pub cpus: usize,
    /// Kernel command line.
    pub cmdline: Option<String>,
    /// `/sys/devices/system/cpu/isolated`.
    pub isolated: Option<String>,
    /// `/sys/devices/system/cpu/nohz_full`.
    pub nohz_full: Option<String>,
    /// Scaling governor of the chosen core.
    pub governor: Option<String>,
    /// `1` when turbo/boost is on (`intel_pstate/no_turbo` inverted, or `cpufreq/boost`).
    pub turbo: Option<bool>,
    /// `/sys/kernel/mm/transparent_hugepage/enabled`.
    pub thp: Option<String>,
    /// Whether an irqbalance process runs.
    pub irqbalance_running: bool,
    /// SMT siblings of the chosen core (`thread_siblings_list`).
    pub siblings: Option<String>,
    /// `RLIMIT_MEMLOCK` soft limit in bytes (`u64::MAX` = unlimited).
    pub memlock: Option<u64>,
    /// `/proc/sys/kernel/sched_rt_runtime_us`.
    pub sched_rt_runtime_us: Option<i64>,
    /// `/proc/irq/default_smp_affinity` as a CPU list, if readable.
    pub irq_default_affinity: Option<String>,
    /// DAMON monitors running a `pageout` scheme over physical memory (reclaiming any memory
    /// they see as cold): `kdamond N` from the sysfs admin interface, `damon_reclaim` for the
    /// module; empty when none runs (or the kernel has no DAMON); `None` when its files cannot
    /// be read (they are root's).
    pub damon_pageout: Option<Vec<String>>,
}

/// CPUs online on the host (not the calling thread's affinity, which `taskset` narrows).
pub fn online_cpus() -> usize {
    // SAFETY: sysconf(3) only reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// DAMON's sysfs admin directory of monitors.
const DAMON_KDAMONDS: &str = "/sys/kernel/mm/damon/admin/kdamonds";
/// The DAMON_RECLAIM module's switch.
const DAMON_RECLAIM_ENABLED: &str = "/sys/module/damon_reclaim/parameters/enabled";

/// DAMON monitors running a `pageout` scheme over physical memory (see
/// [`HostFacts::damon_pageout`]), from the `kdamonds` admin directory and the DAMON_RECLAIM
/// switch; `None` when a file that would tell cannot be read.
fn damon_pageout(kdamonds: &Path, reclaim_enabled: &Path) -> Option<Vec<String>> {
    let text = |path: &Path| match std::fs::read_to_string(path) {
        Ok(t) => Some(Some(t.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(None),
        Err(_) => None,
    };
    // Numbered subdirectories, in numeric order.
    let numbered = |path: &Path| -> Option<Vec<(u32, PathBuf)>> {
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Vec::new()),
            Err(_) => return None,
        };
        let mut dirs: Vec<(u32, PathBuf)> = entries
            .flatten()
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
            .collect();
        dirs.sort();
        Some(dirs)
    };
    let mut found = Vec::new();
    for (n, kdamond) in numbered(kdamonds)? {
        if text(&kdamond.join("state"))?.as_deref() != Some("on") {
            continue;
        }
        let mut pageout = false;
        for (_, context) in numbered(&kdamond.join("contexts"))? {
            if text(&context.join("operations"))?.as_deref() != Some("paddr") {
                continue;
            }
            for (_, scheme) in numbered(&context.join("schemes"))? {
                pageout |= text(&scheme.join("action"))?.as_deref() == Some("pageout");
            }
        }
        if pageout {
            found.push(format!("kdamond {n}"));
        }
    }
    if text(reclaim_enabled)?.as_deref() == Some("Y") {
        found.push("damon_reclaim".into());
    }
    Some(found)
}

/// This process's `RLIMIT_MEMLOCK` soft limit in bytes (`u64::MAX`: unlimited); `None` if it
/// cannot be read.
pub fn memlock_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes into the rlimit struct we own; it has no other effect.
    (unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } == 0).then_some(limit.rlim_cur)
}

/// Reads the facts for `core`.
pub fn gather(core: usize) -> HostFacts {
    let turbo = read("/sys/devices/system/cpu/intel_pstate/no_turbo")
        .map(|v| v == "0")
        .or_else(|| read("/sys/devices/system/cpu/cpufreq/boost").map(|v| v == "1"));
    let irqbalance_running = std::fs::read_dir("/proc").is_ok_and(|entries| {
        entries.flatten().any(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "irqbalance")
        })
    });
    HostFacts {
        cpus: online_cpus(),
        cmdline: read("/proc/cmdline"),
        isolated: read("/sys/devices/system/cpu/isolated"),
        nohz_full: read("/sys/devices/system/cpu/nohz_full"),
        governor: read(&format!(
            "/sys/devices/system/cpu/cpu{core}/cpufreq/scaling_governor"
        )),
        turbo,
        thp: read("/sys/kernel/mm/transparent_hugepage/enabled"),
        irqbalance_running,
        siblings: read(&format!(
            "/sys/devices/system/cpu/cpu{core}/topology/thread_siblings_list"
        )),
        memlock: memlock_limit(),
        sched_rt_runtime_us: read("/proc/sys/kernel/sched_rt_runtime_us")
            .and_then(|v| v.parse().ok()),
        irq_default_affinity: read("/proc/irq/default_smp_affinity"),
        damon_pageout: damon_pageout(DAMON_KDAMONDS.as_ref(), DAMON_RECLAIM_ENABLED.as_ref()),
    }
}

/// Parses a kernel CPU list such as `1-3,6`; `None` if malformed.
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 4096 {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    Some(cpus)
}

fn cmdline_param<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

/// Evaluates the facts for `core`.
pub fn evaluate(f: &HostFacts, core: usize) -> Vec<HostCheck> {
    let mut out = Vec::new();
    let mut row = |item, value: String, verdict, advice: String| {
        out.push(HostCheck {
            item,
            value,
            verdict,
            advice,
        })
    };
    let cmdline = f.cmdline.clone().unwrap_or_default();
    let in_list = |list: Option<&str>| {
        list.and_then(parse_cpu_list)
            .is_some_and(|cpus| cpus.contains(&core))
    };
    row(
        "cpus",
        f.cpus.to_string(),
        if f.cpus > core {
            Verdict::Ok
        } else {
            Verdict::Change
        },
        if f.cpus > core {
            String::new()
        } else {
            format!("core {core} does not exist")
        },
    );
    let isolated = f.isolated.clone().unwrap_or_default();
    let isolcpus = cmdline_param(&cmdline, "isolcpus").map(|v| {
        v.split(',')
            .filter(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .collect::<Vec<_>>()
            .join(",")
    });
    let is_isolated = in_list(Some(&isolated)) || in_list(isolcpus.as_deref());
    row(
        "isolcpus",
        if isolated.is_empty() {
            "none".into()
        } else {
            isolated
        },
        if is_isolated {
            Verdict::Ok
        } else {
            Verdict::Change
        },
        if is_isolated {
            String::new()
        } else {
            format!("boot with isolcpus={core} (or a cpuset) so nothing else is scheduled on core {core}")
        },
    );
    for (item, key) in [("nohz_full", "nohz_full"), ("rcu_nocbs", "rcu_nocbs")] {
        let value = if key == "nohz_full" {
            f.nohz_full
                .clone()
                .or_else(|| cmdline_param(&cmdline, key).map(str::to_string))
        } else {
            cmdline_param(&cmdline, key).map(str::to_string)
        };
        let ok = in_list(value.as_deref());
        row(
            item,
            value.unwrap_or_else(|| "not set".into()),
            if ok { Verdict::Ok } else { Verdict::Change },
            if ok {
                String::new()
            } else {
                format!("boot with {key}={core} to stop timer ticks / RCU callbacks there")
            },
        );
    }
    let irq = cmdline_param(&cmdline, "irqaffinity").map(str::to_string);
    let irq_ok = irq
        .as_deref()
        .and_then(parse_cpu_list)
        .is_some_and(|cpus| !cpus.contains(&core));
    row(
        "irqaffinity",
        irq.or_else(|| f.irq_default_affinity.clone().map(|m| format!("mask {m}")))
            .unwrap_or_else(|| "default".into()),
        if irq_ok { Verdict::Ok } else { Verdict::Change },
        if irq_ok {
            String::new()
        } else {
            format!("boot with irqaffinity=<housekeeping cores> excluding {core}")
        },
    );
    match &f.governor {
        Some(g) => row(
            "governor",
            g.clone(),
            if g == "performance" {
                Verdict::Ok
            } else {
                Verdict::Change
            },
            if g == "performance" {
                String::new()
            } else {
                "cpupower frequency-set -g performance".into()
            },
        ),
        None => row(
            "governor",
            "not exposed (VM?)".into(),
            Verdict::Unknown,
            String::new(),
        ),
    }
    match f.turbo {
        Some(on) => row(
            "turbo",
            if on { "on" } else { "off" }.into(),
            Verdict::Ok,
            if on {
                "turbo raises clocks but varies them; disable for the steadiest tails".into()
            } else {
                String::new()
            },
        ),
        None => row(
            "turbo",
            "not exposed".into(),
            Verdict::Unknown,
            String::new(),
        ),
    }
    match &f.thp {
        Some(t) => {
            let never = t.contains("[never]") || t.contains("[madvise]");
            row(
                "transparent hugepages",
                t.clone(),
                if never { Verdict::Ok } else { Verdict::Change },
                if never {
                    String::new()
                } else {
                    "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (khugepaged stalls)"
                        .into()
                },
            );
        }
        None => row(
            "transparent hugepages",
            "unknown".into(),
            Verdict::Unknown,
            String::new(),
        ),
    }
    row(
        "irqbalance",
        if f.irqbalance_running {
            "running"
        } else {
            "not running"
        }
        .into(),
        if f.irqbalance_running {
            Verdict::Change
        } else {
            Verdict::Ok
        },
        if f.irqbalance_running {
            "stop irqbalance or ban the core (IRQBALANCE_BANNED_CPULIST)".into()
        } else {
            String::new()
        },
    );
    match &f.damon_pageout {
        Some(found) if found.is_empty() => row(
            "DAMON reclaim",
            "no pageout of physical memory".into(),
            Verdict::Ok,
            String::new(),
        ),
        Some(found) => {
            let off: Vec<String> = found
                .iter()
                .map(|who| match who.strip_prefix("kdamond ") {
                    Some(n) => format!("echo off > {DAMON_KDAMONDS}/{n}/state"),
                    None => format!("echo N > {DAMON_RECLAIM_ENABLED}"),
                })
                .collect();
            row(
                "DAMON reclaim",
                format!("pageout by {}", found.join(", ")),
                Verdict::Change,
                format!(
                    "it pages out memory it sees as cold, the engine's own code among it: run \
                     with --mlock (scripts/launch.sh does), or turn it off: {}",
                    off.join("; ")
                ),
            );
        }
        None => row(
            "DAMON reclaim",
            "unreadable (run check-host as root)".into(),
            Verdict::Unknown,
            String::new(),
        ),
    }
    match f.siblings.as_deref().and_then(parse_cpu_list) {
        Some(sibs) => {
            let others: Vec<String> = sibs
                .iter()
                .filter(|&&c| c != core)
                .map(|c| c.to_string())
                .collect();
            row(
                "SMT siblings",
                f.siblings.clone().unwrap_or_default(),
                if others.is_empty() {
                    Verdict::Ok
                } else {
                    Verdict::Change
                },
                if others.is_empty() {
                    String::new()
                } else {
                    format!(
                        "keep sibling(s) {} idle (isolate them too) or disable SMT",
                        others.join(",")
                    )
                },
            );
        }
        None => row(
            "SMT siblings",
            "unknown".into(),
            Verdict::Unknown,
            String::new(),
        ),
    }
    match f.memlock {
        Some(limit) => {
            let enough = limit == u64::MAX || limit >= 256 << 20;
            row(
                "memlock limit",
                if limit == u64::MAX {
                    "unlimited".into()
                } else {
                    format!("{} KiB", limit / 1024)
                },
                if enough { Verdict::Ok } else { Verdict::Change },
                if enough {
                    String::new()
                } else {
                    "ulimit -l unlimited (mlockall needs it)".into()
                },
            );
        }
        None => row(
            "memlock limit",
            "unknown".into(),
            Verdict::Unknown,
            String::new(),
        ),
    }
    match f.sched_rt_runtime_us {
        Some(v) => row(
            "sched_rt_runtime_us",
            v.to_string(),
            if v == -1 {
                Verdict::Ok
            } else {
                Verdict::Change
            },
            if v == -1 {
                String::new()
            } else {
                "a spinning SCHED_FIFO thread is throttled (stalls ~50 ms/s): use --fifo only on an isolated core, and set -1 there".into()
            },
        ),
        None => row(
            "sched_rt_runtime_us",
            "unknown".into(),
            Verdict::Unknown,
            String::new(),
        ),
    }
    out
}

/// Renders the report as a text table.
pub fn render(checks: &[HostCheck], core: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "host check for strategy core {core}");
    let _ = writeln!(s, "{:<22} {:<28} {:<8} advice", "item", "value", "status");
    for c in checks {
        let verdict = match c.verdict {
            Verdict::Ok => "ok",
            Verdict::Change => "CHANGE",
            Verdict::Unknown => "?",
        };
        let mut value = c.value.clone();
        if value.len() > 28 {
            value.truncate(25);
            value.push_str("...");
        }
        let _ = writeln!(
            s,
            "{:<22} {:<28} {:<8} {}",
            c.item, value, verdict, c.advice
        );
    }
    let changes = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Change)
        .count();
    let _ = writeln!(s, "{changes} item(s) to change");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("1-3,6"), Some(vec![1, 2, 3, 6]));
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    fn tuned() -> HostFacts {
        HostFacts {
            cpus: 4,
            cmdline: Some(
                "quiet isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1"
                    .into(),
            ),
            isolated: Some("2-3".into()),
            nohz_full: Some("2-3".into()),
            governor: Some("performance".into()),
            turbo: Some(false),
            thp: Some("always madvise [never]".into()),
            irqbalance_running: false,
            siblings: Some("2".into()),
            memlock: Some(u64::MAX),
            sched_rt_runtime_us: Some(-1),
            irq_default_affinity: Some("3".into()),
            damon_pageout: Some(Vec::new()),
        }
    }

    #[test]
    fn a_tuned_host_needs_no_change() {
        let checks = evaluate(&tuned(), 2);
        let changes: Vec<_> = checks
            .iter()
            .filter(|c| c.verdict == Verdict::Change)
            .collect();
        assert!(changes.is_empty(), "{changes:?}");
        assert!(render(&checks, 2).contains("0 item(s) to change"));
    }

    #[test]
    fn an_untuned_host_gets_advice_for_each_item() {
        let facts = HostFacts {
            cpus: 2,
            cmdline: Some("quiet".into()),
            isolated: Some(String::new()),
            nohz_full: None,
            governor: Some("powersave".into()),
            turbo: None,
            thp: Some("[always] madvise never".into()),
            irqbalance_running: true,
            siblings: Some("1,3".into()),
            memlock: Some(8 << 20),
            sched_rt_runtime_us: Some(950_000),
            irq_default_affinity: None,
            damon_pageout: Some(vec!["kdamond 0".into()]),
        };
        let checks = evaluate(&facts, 1);
        let changed: Vec<&str> = checks
            .iter()
            .filter(|c| c.verdict == Verdict::Change)
            .map(|c| c.item)
            .collect();
        for item in [
            "isolcpus",
            "nohz_full",
            "rcu_nocbs",
            "irqaffinity",
            "governor",
            "transparent hugepages",
            "irqbalance",
            "DAMON reclaim",
            "SMT siblings",
            "memlock limit",
            "sched_rt_runtime_us",
        ] {
            assert!(changed.contains(&item), "{item} not flagged: {changed:?}");
        }
        assert!(checks
            .iter()
            .all(|c| c.verdict != Verdict::Change || !c.advice.is_empty()));
        assert!(
            evaluate(&facts, 2)[0].verdict == Verdict::Change,
            "core 2 does not exist on 2 cpus"
        );
    }

    /// A DAMON sysfs tree: monitor 2 pages out physical memory, 0 is off, 1 and 10 only monitor
    /// (or page out a process's own memory), and the reclaim module is off.
    #[test]
    fn damon_pageout_of_physical_memory_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kdamonds = dir.path().join("kdamonds");
        let file = |path: &str, text: &str| {
            let path = kdamonds.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        file("nr_kdamonds", "4\n");
        for (n, state, ops, action) in [
            (0, "off", "paddr", "pageout"),
            (1, "on", "paddr", "stat"),
            (2, "on", "paddr", "pageout"),
            (10, "on", "vaddr", "pageout"),
        ] {
            file(&format!("{n}/state"), &format!("{state}\n"));
            file(&format!("{n}/contexts/0/operations"), &format!("{ops}\n"));
            file(
                &format!("{n}/contexts/0/schemes/0/action"),
                &format!("{action}\n"),
            );
        }
        let reclaim = dir.path().join("enabled");
        std::fs::write(&reclaim, "N\n").expect("write");
        assert_eq!(
            damon_pageout(&kdamonds, &reclaim),
            Some(vec!["kdamond 2".to_string()])
        );
        std::fs::write(&reclaim, "Y\n").expect("write");
        assert_eq!(
            damon_pageout(&kdamonds, &reclaim),
            Some(vec!["kdamond 2".to_string(), "damon_reclaim".to_string()])
        );
        let none = dir.path().join("none");
        assert_eq!(damon_pageout(&none, &none), Some(Vec::new()), "no DAMON");
        // A file that exists but cannot be read (a directory here; root-only files for a user).
        std::fs::create_dir_all(kdamonds.join("3/state")).expect("mkdir");
        assert_eq!(damon_pageout(&kdamonds, &reclaim), None);
    }
}
