//! Scenario 6: the demo's wall time and entries/s, by running the built
//! `armsledger demo --json` (`$ARMSLEDGER_BIN`, else `target/release/armsledger`
//! beside this program). Skipped with a note when no binary is found.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::Figure;

pub(crate) fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ARMSLEDGER_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join("armsledger");
    p.is_file().then_some(p)
}

/// Runs the demo (`days` of operations, default run when `None`), killing
/// it after `timeout`. Returns the figures, or a note saying why none.
pub fn run(
    days: Option<u64>,
    timeout: Duration,
    dir: &Path,
) -> anyhow::Result<Result<Vec<Figure>, String>> {
    let Some(bin) = binary() else {
        return Ok(Err(
            "skipped: no armsledger binary (build it with `cargo build --release -p armsledger-cli` or set ARMSLEDGER_BIN)"
                .into(),
        ));
    };
    let out_dir = tempfile::tempdir_in(dir)?;
    let mut cmd = Command::new(&bin);
    cmd.arg("demo")
        .arg("--dir")
        .arg(out_dir.path().join("demo"))
        .arg("--json");
    if let Some(d) = days {
        cmd.arg("--days").arg(d.to_string());
    }
    let t = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
        buf
    });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if t.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Err(format!(
                "skipped: demo still running after {timeout:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = t.elapsed();
    let stdout = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reader thread panicked"))?;
    if !status.success() {
        return Ok(Err(format!(
            "demo failed: {status} (is `demo` a subcommand of {}?)",
            bin.display()
        )));
    }
    let summary: serde_json::Value = serde_json::from_slice(&stdout)?;
    let entries = summary
        .get("entries")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let label = days.map_or("default run".to_owned(), |d| format!("{d} days"));
    Ok(Ok(vec![
        Figure::new(
            "6 demo",
            &format!("wall time ({label}, {})", bin.display()),
            wall.as_secs_f64(),
            "s",
        ),
        Figure::new(
            "6 demo",
            &format!("entries/s ({entries} entries)"),
            entries as f64 / wall.as_secs_f64(),
            "entries/s",
        ),
    ]))
}
