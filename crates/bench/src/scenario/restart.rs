//! Scenario 9 (run when named: `--scenario restart`): how long a real
//! `armsledger serve` over an `n`-entry log takes to be ready (its
//! "listening" line, printed once the rules are caught up with the log),
//! replaying the whole log and starting from a rules snapshot. The log is
//! the trace scenario's kind (storage moves of pistols, valid signed
//! entries, every index), written through `LogStore::append_batch`.
//!
//! 1. First start: no snapshot, the whole log replayed (signatures batch
//!    verified, every rule applied). Stopped with SIGTERM: the server
//!    writes a snapshot of the whole log at shutdown.
//! 2. `runs` starts from that snapshot (nothing replayed through the
//!    rules; ready before the history is read back from the log, which is
//!    timed too), each stopped with SIGTERM.
//!
//! Needs the `armsledger` binary (`$ARMSLEDGER_BIN`, else beside this
//! program); skipped with a note otherwise.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::Figure;

/// Runs the scenario at `n` entries with `runs` starts from the snapshot.
pub fn run(n: usize, runs: usize, dir: &Path) -> anyhow::Result<Result<Vec<Figure>, String>> {
    let Some(bin) = super::demo::binary() else {
        return Ok(Err(
            "restart skipped: no armsledger binary (build it with `cargo build --release -p armsledger-cli` or set ARMSLEDGER_BIN)"
                .into(),
        ));
    };
    let data = dir.join(format!("restart-{n}"));
    std::fs::create_dir_all(&data)?;
    let t = Instant::now();
    let regulator = fill(&data.join("log.redb"), n)?;
    let fill_s = t.elapsed().as_secs_f64();
    eprintln!("  restart: {n}-entry log written in {fill_s:.0} s");
    let key = hex::encode(regulator);

    let (full_ready, mut child, url) = start(&bin, &data, &key)?;
    let full_metrics = metrics(&url)?;
    let t = Instant::now();
    stop(&mut child)?;
    let shutdown_s = t.elapsed().as_secs_f64();
    let snap = armsledger_store::snapshot::SnapshotDir::new(data.join("snapshots"));
    let (size, path) = snap
        .list()?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no snapshot written at shutdown"))?;
    anyhow::ensure!(
        size == n as u64,
        "the snapshot covers {size} of {n} entries"
    );
    let snap_bytes = std::fs::metadata(&path)?.len() as f64;

    let mut ready = Vec::new();
    let mut server_ms = Vec::new();
    let mut history_s = Vec::new();
    for _ in 0..runs.max(1) {
        let (secs, mut child, url) = start(&bin, &data, &key)?;
        let m = metrics(&url)?;
        anyhow::ensure!(
            m.from == n as u64 && m.replayed == 0,
            "a start did not resume from the snapshot: from {}, replayed {}",
            m.from,
            m.replayed
        );
        ready.push(secs);
        server_ms.push(m.ready_ms as f64 / 1e3);
        // The history the snapshot left out, read back after ready.
        let until = Instant::now() + Duration::from_secs(3600);
        let mut loaded = metrics(&url)?.history_ms;
        while loaded == 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
            loaded = metrics(&url)?.history_ms;
        }
        history_s.push(loaded as f64 / 1e3);
        stop(&mut child)?;
    }
    let _ = std::fs::remove_dir_all(&data);
    ready.sort_by(f64::total_cmp);
    server_ms.sort_by(f64::total_cmp);
    history_s.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(0.0);
    let (lo, hi) = (
        ready.first().copied().unwrap_or(0.0),
        ready.last().copied().unwrap_or(0.0),
    );
    let sc = "9 restart";
    let label = if n >= 1_000_000 {
        format!("{}M", n / 1_000_000)
    } else {
        format!("{}k", n / 1000)
    };
    Ok(Ok(vec![
        Figure::new(
            sc,
            &format!("{label}: ready, whole log replayed (1 run)"),
            full_ready,
            "s",
        ),
        Figure::new(
            sc,
            &format!("{label}: of which catching the rules up (server)"),
            full_metrics.ready_ms as f64 / 1e3,
            "s",
        ),
        Figure::new(
            sc,
            &format!(
                "{label}: ready from a snapshot, median of {} (min {lo:.2}, max {hi:.2})",
                ready.len()
            ),
            median(&ready),
            "s",
        )
        .against("whole log replayed", full_ready)
        .goal("< 5 s at 10M", n >= 10_000_000 && median(&ready) < 5.0),
        Figure::new(
            sc,
            &format!("{label}: of which loading the snapshot (server), median"),
            median(&server_ms),
            "s",
        ),
        Figure::new(
            sc,
            &format!("{label}: history read back after ready (in the background), median"),
            median(&history_s),
            "s",
        ),
        Figure::new(
            sc,
            &format!("{label}: shutdown, writing the snapshot"),
            shutdown_s,
            "s",
        ),
        Figure::new(
            sc,
            &format!("{label}: snapshot bytes per entry"),
            snap_bytes / n as f64,
            "B",
        ),
    ]))
}

/// Writes an `n`-entry log at `path` (the trace scenario's); returns the
/// regulator key.
fn fill(path: &Path, n: usize) -> anyhow::Result<[u8; 32]> {
    Ok(super::trace::fill(path, n, 1_767_225_600_000)?.0.regulator)
}

/// Starts `armsledger serve`; the seconds until its "listening" line, the
/// process and its URL.
fn start(bin: &Path, data: &Path, key: &str) -> anyhow::Result<(f64, Child, String)> {
    // Its stderr is kept beside the data directory, so that a server that
    // exits before it is ready says why.
    let errors = data.with_extension("serve-stderr.log");
    let t = Instant::now();
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--regulator-key",
            key,
            "--data",
        ])
        .arg(data)
        .env_remove("ARMSLEDGER_DATA")
        .env_remove("ARMSLEDGER_LISTEN")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&errors)?)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().ok_or_else(|| {
        let said = std::fs::read_to_string(&errors).unwrap_or_default();
        let tail: Vec<&str> = said.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        anyhow::anyhow!(
            "the server exited before it was ready; its stderr ({}) ends:\n{}",
            errors.display(),
            tail.join("\n")
        )
    })??;
    let secs = t.elapsed().as_secs_f64();
    std::thread::spawn(move || for _ in lines {});
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| anyhow::anyhow!("no URL in {line:?}"))?
        .to_owned();
    Ok((secs, child, url))
}

/// SIGTERM, then waits for the exit (the shutdown snapshot included).
fn stop(child: &mut Child) -> anyhow::Result<()> {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    anyhow::ensure!(st.success(), "kill -TERM failed");
    let until = Instant::now() + Duration::from_secs(3600);
    loop {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < until, "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct StartMetrics {
    from: u64,
    replayed: u64,
    ready_ms: u64,
    history_ms: u64,
}

fn metrics(url: &str) -> anyhow::Result<StartMetrics> {
    let body = ureq::get(&format!("{url}/metrics"))
        .call()?
        .body_mut()
        .read_to_string()?;
    let get = |name: &str| -> u64 {
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(StartMetrics {
        from: get("armsledger_snapshot_start_from"),
        replayed: get("armsledger_snapshot_start_replayed"),
        ready_ms: get("armsledger_snapshot_start_ready_ms"),
        history_ms: get("armsledger_snapshot_history_loaded_ms"),
    })
}
