//! The run's progress on the terminal: a bar on a terminal, a line per tenth
//! of the run otherwise, nothing with `--json`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use super::DemoArgs;
use super::armouries::Common;

/// A bar on a terminal, a line per tenth of the run otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    days: u64,
    /// The last day a plain line was printed for.
    printed: AtomicU64,
}

impl Progress {
    /// Progress over `sites` armouries and `days` days.
    pub fn new(a: &DemoArgs, sites: usize, days: u64) -> Progress {
        let total = days * u64::try_from(sites).unwrap_or(1);
        let term = std::io::stderr().is_terminal() && !a.json;
        let bar = term.then(|| {
            let b = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} site-days {pos}/{len} {wide_bar} {msg} [{elapsed}]",
            ) {
                b.set_style(style);
            }
            b
        });
        Progress {
            bar,
            plain: !term && !a.json,
            days,
            printed: AtomicU64::new(0),
        }
    }

    /// One armoury finished day `d`.
    pub fn day_done(&self, d: u64, common: &Common) {
        let entries = common.entries.load(Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(format!("{entries} entries"));
        } else if self.plain && self.days >= 10 && (d + 1).is_multiple_of(self.days / 10) {
            // Printed by whichever site reaches the day first.
            if self.printed.fetch_max(d + 1, Ordering::Relaxed) < d + 1 {
                eprintln!("day {}/{}: {entries} entries signed", d + 1, self.days);
            }
        }
    }

    /// The year is over.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
