//! Process-level power-fail points (feature `fault-injection`, test builds
//! only): `armsledger-device serve` stops dead at the N-th storage I/O, so a
//! crash suite can cut a real device process at every point where power can
//! fail.
//!
//! ```text
//! ARMSLEDGER_DEVICE_KILL_AT_IO=N         killed before the N-th storage I/O after boot
//! ARMSLEDGER_DEVICE_KILL_AT_IO=boot:N    the same, counting from the first I/O of boot
//! ARMSLEDGER_DEVICE_KILL_AT_IO=N:torn    the N-th I/O, if a flash write, lands half, then the kill
//! ```
//!
//! A storage I/O is a flash write, a flash sync, or a monotonic raise that
//! changes a value (reads change nothing, so a cut before one equals a cut
//! after the previous write). The process sends itself SIGKILL (falling back
//! to `abort`), so nothing is flushed, unwound or answered: the host sees the
//! connection close. Writes already made stay in the file, as they would in a
//! disk cache that a process crash does not lose; a torn write stands for the
//! power cut that does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::storage::{Cell, Flash, MonotonicStore, PowerPoint, StorageError};

/// The environment variable `serve` reads in fault-injection builds.
pub const KILL_ENV: &str = "ARMSLEDGER_DEVICE_KILL_AT_IO";

/// Where to stop a device process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KillPlan {
    /// The I/O to stop at (1 = the first).
    pub at: u64,
    /// Count from the first I/O of boot, not from the first after it.
    pub from_boot: bool,
    /// A flash write at the kill point lands its first half.
    pub torn: bool,
}

impl KillPlan {
    /// Parses `N`, `boot:N`, `N:torn` or `boot:N:torn`; `None` if malformed or zero.
    pub fn parse(s: &str) -> Option<KillPlan> {
        let s = s.trim();
        let (from_boot, rest) = match s.strip_prefix("boot:") {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (n, torn) = match rest.strip_suffix(":torn") {
            Some(n) => (n, true),
            None => (rest, false),
        };
        let at: u64 = n.parse().ok().filter(|n| *n > 0)?;
        Some(KillPlan {
            at,
            from_boot,
            torn,
        })
    }

    /// The plan in [`KILL_ENV`], if set and well formed.
    pub fn from_env() -> Result<Option<KillPlan>, String> {
        match std::env::var(KILL_ENV) {
            Err(_) => Ok(None),
            Ok(v) => KillPlan::parse(&v).map(Some).ok_or_else(|| {
                format!("{KILL_ENV}={v:?}: expected N, boot:N, N:torn or boot:N:torn (N ≥ 1)")
            }),
        }
    }
}

/// Counts storage I/Os and stops the process at the planned one. Clones
/// share the count.
#[derive(Clone)]
pub struct KillSwitch(Arc<Inner>);

struct Inner {
    plan: KillPlan,
    armed: AtomicBool,
    count: AtomicU64,
}

/// What an I/O does under the switch.
enum Verdict {
    Go,
    /// Kill now (after a torn write, if the plan says so).
    Kill {
        torn: bool,
    },
}

impl KillSwitch {
    /// A switch for `plan`; armed at once if it counts from boot.
    pub fn new(plan: KillPlan) -> Self {
        KillSwitch(Arc::new(Inner {
            plan,
            armed: AtomicBool::new(plan.from_boot),
            count: AtomicU64::new(0),
        }))
    }

    /// Starts counting (after boot).
    pub fn arm(&self) {
        self.0.armed.store(true, Ordering::SeqCst);
    }

    /// Wraps a flash.
    pub fn flash(&self, inner: Box<dyn Flash>) -> Box<dyn Flash> {
        Box::new(KillFlash {
            inner,
            switch: self.clone(),
        })
    }

    /// Wraps a monotonic store.
    pub fn monotonic(&self, inner: Box<dyn MonotonicStore>) -> Box<dyn MonotonicStore> {
        Box::new(KillMonotonic {
            inner,
            switch: self.clone(),
        })
    }

    fn io(&self) -> Verdict {
        if !self.0.armed.load(Ordering::SeqCst) {
            return Verdict::Go;
        }
        let n = self
            .0
            .count
            .fetch_add(1, Ordering::SeqCst)
            .saturating_add(1);
        if n == self.0.plan.at {
            Verdict::Kill {
                torn: self.0.plan.torn,
            }
        } else {
            Verdict::Go
        }
    }
}

/// Stops this process dead, saying at which I/O on standard error (the
/// suite names its kill points from it): SIGKILL to itself, else `abort`.
pub fn die(what: &str) -> ! {
    eprintln!("armsledger-device: killed at {what}");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    std::process::abort()
}

struct KillFlash {
    inner: Box<dyn Flash>,
    switch: KillSwitch,
}

impl Flash for KillFlash {
    fn size(&self) -> u32 {
        self.inner.size()
    }

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.inner.read(offset, buf)
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        if let Verdict::Kill { torn } = self.switch.io() {
            if torn {
                let half = data.get(..data.len() / 2).unwrap_or(&[]);
                let _ = self.inner.write(offset, half);
                let _ = self.inner.sync();
                die(&format!(
                    "flash write at {offset:#x} (torn: {} of {} bytes)",
                    half.len(),
                    data.len()
                ));
            }
            die(&format!("flash write at {offset:#x}"));
        }
        self.inner.write(offset, data)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        if let Verdict::Kill { .. } = self.switch.io() {
            die("flash sync");
        }
        self.inner.sync()
    }

    fn power_point(&mut self, point: PowerPoint) -> Result<(), StorageError> {
        self.inner.power_point(point)
    }
}

struct KillMonotonic {
    inner: Box<dyn MonotonicStore>,
    switch: KillSwitch,
}

impl MonotonicStore for KillMonotonic {
    fn read(&mut self, cell: Cell) -> Result<u64, StorageError> {
        self.inner.read(cell)
    }

    fn raise_to(&mut self, cell: Cell, value: u64) -> Result<(), StorageError> {
        // Raising to the current value changes nothing and writes nothing.
        if self.inner.read(cell)? != value
            && let Verdict::Kill { .. } = self.switch.io()
        {
            die(&format!("monotonic raise of {cell:?} to {value}"));
        }
        self.inner.raise_to(cell, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse() {
        assert_eq!(
            KillPlan::parse("3"),
            Some(KillPlan {
                at: 3,
                from_boot: false,
                torn: false
            })
        );
        assert_eq!(
            KillPlan::parse("boot:2:torn"),
            Some(KillPlan {
                at: 2,
                from_boot: true,
                torn: true
            })
        );
        assert_eq!(KillPlan::parse("0"), None);
        assert_eq!(KillPlan::parse("x"), None);
        assert_eq!(KillPlan::parse("torn:1"), None);
    }

    #[test]
    fn counting_starts_when_armed_and_passes_through() {
        let switch = KillSwitch::new(KillPlan::parse("3").unwrap());
        let mut f = switch.flash(Box::new(crate::storage::MemFlash::new(vec![0; 8])));
        // Not armed: nothing counts.
        for _ in 0..5 {
            f.write(0, &[1]).unwrap();
        }
        switch.arm();
        f.write(1, &[2]).unwrap();
        f.sync().unwrap();
        assert_eq!(switch.0.count.load(Ordering::SeqCst), 2);
        let mut b = [0u8; 2];
        f.read(0, &mut b).unwrap();
        assert_eq!(b, [1, 2]);
        let mut m = switch.monotonic(Box::new(crate::storage::MemMonotonic::new()));
        // A raise to the same value is not an I/O.
        m.raise_to(Cell::Issued, 0).unwrap();
        assert_eq!(switch.0.count.load(Ordering::SeqCst), 2);
    }
}
