//! Process-level kill points (feature `fault-injection`, test builds only):
//! a serving witness stops dead at a named persist point or at the N-th
//! storage I/O, so a crash suite can cut a real witness process everywhere a
//! crash could land while it persists.
//!
//! ```text
//! ARMSLEDGER_WITNESS_KILL_AT=checked                 state checked, cosignature made, nothing written
//! ARMSLEDGER_WITNESS_KILL_AT=before-commit           new state written, not committed
//! ARMSLEDGER_WITNESS_KILL_AT=after-commit            committed, cosignature not yet answered
//! ARMSLEDGER_WITNESS_KILL_AT=evidence-before-commit  refusal evidence written, not committed
//! ARMSLEDGER_WITNESS_KILL_AT=io:N                    before the N-th redb write, sync or resize after start-up
//! ```
//!
//! The process sends itself SIGKILL (falling back to `abort`): nothing is
//! flushed, unwound or answered. Writes already made stay in the file, as a
//! process crash leaves them in the page cache. Without the feature every
//! point is a no-op and the variable is ignored.

#[cfg(feature = "fault-injection")]
use std::sync::Arc;
#[cfg(feature = "fault-injection")]
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The environment variable read in fault-injection builds.
pub const KILL_ENV: &str = "ARMSLEDGER_WITNESS_KILL_AT";

/// The named persist points, in the order a submission passes them.
pub const KILL_POINTS: [&str; 4] = [
    "checked",
    "before-commit",
    "after-commit",
    "evidence-before-commit",
];

/// Where to stop the process, if anywhere. Clones share the I/O count.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    #[cfg(feature = "fault-injection")]
    plan: Option<Arc<Plan>>,
}

#[cfg(feature = "fault-injection")]
#[derive(Debug)]
struct Plan {
    point: Option<String>,
    io: Option<u64>,
    armed: AtomicBool,
    count: AtomicU64,
}

impl Faults {
    /// No kill points.
    pub fn none() -> Self {
        Self::default()
    }

    /// The plan in [`KILL_ENV`] (fault-injection builds; otherwise none).
    pub fn from_env() -> Result<Self, String> {
        #[cfg(feature = "fault-injection")]
        {
            let Ok(v) = std::env::var(KILL_ENV) else {
                return Ok(Self::none());
            };
            let io = match v.strip_prefix("io:") {
                Some(n) => Some(
                    n.parse::<u64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("{KILL_ENV}={v:?}: io:N needs N ≥ 1"))?,
                ),
                None if KILL_POINTS.contains(&v.as_str()) => None,
                None => {
                    return Err(format!(
                        "{KILL_ENV}={v:?}: expected one of {KILL_POINTS:?} or io:N"
                    ));
                }
            };
            let point = if io.is_none() { Some(v) } else { None };
            Ok(Self {
                plan: Some(Arc::new(Plan {
                    point,
                    io,
                    armed: AtomicBool::new(false),
                    count: AtomicU64::new(0),
                })),
            })
        }
        #[cfg(not(feature = "fault-injection"))]
        Ok(Self::none())
    }

    /// Passes the named persist point: dies here if the plan names it.
    pub fn point(&self, _name: &str) {
        #[cfg(feature = "fault-injection")]
        if let Some(plan) = &self.plan
            && plan.point.as_deref() == Some(_name)
        {
            die(_name);
        }
    }

    /// Starts counting storage I/O (after start-up).
    pub fn arm(&self) {
        #[cfg(feature = "fault-injection")]
        if let Some(plan) = &self.plan {
            plan.armed.store(true, Ordering::SeqCst);
        }
    }

    /// Whether storage I/O must go through [`Faults::io`].
    pub(crate) fn counts_io(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        return self.plan.as_ref().is_some_and(|p| p.io.is_some());
        #[cfg(not(feature = "fault-injection"))]
        false
    }

    /// One storage I/O: dies if it is the planned one.
    pub(crate) fn io(&self, _what: &str) {
        #[cfg(feature = "fault-injection")]
        if let Some(plan) = &self.plan
            && let Some(at) = plan.io
            && plan.armed.load(Ordering::SeqCst)
        {
            let n = plan.count.fetch_add(1, Ordering::SeqCst).saturating_add(1);
            if n == at {
                die(&format!("io:{n} ({_what})"));
            }
        }
    }
}

/// Stops this process dead, naming the point on standard error (the suite
/// reads it): SIGKILL to itself, else `abort`.
#[cfg(feature = "fault-injection")]
fn die(what: &str) -> ! {
    eprintln!("armsledger-witness: killed at {what}");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    std::process::abort()
}
