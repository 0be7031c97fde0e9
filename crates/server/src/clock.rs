//! The server's clock: the one place the server reads the time of day.
//! Receipt times, token creation and revocation, an export's creation time
//! and alerts "as of now" all come from it. The server runs on the system
//! clock; tests pass in a clock they set by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use armsledger_core::ids::Timestamp;

/// Where the server reads the time.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock that says what it was last set to (tests, simulations).
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A clock set to `start` that moves only when [`Clock::set`] moves it.
    pub fn manual(start: Timestamp) -> Clock {
        Clock::Manual(Arc::new(AtomicU64::new(start.0)))
    }

    /// Sets a manual clock (forwards or back); the system clock ignores it.
    pub fn set(&self, t: Timestamp) {
        if let Clock::Manual(ms) = self {
            ms.store(t.0, Ordering::Release);
        }
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => system_now(),
            Clock::Manual(ms) => Timestamp(ms.load(Ordering::Acquire)),
        }
    }
}

/// The system clock in ledger time (milliseconds since the Unix epoch; 0
/// before it).
pub fn system_now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_says_what_it_was_set_to_and_the_system_clock_moves_on() {
        let c = Clock::manual(Timestamp(5));
        assert_eq!(c.now(), Timestamp(5));
        c.set(Timestamp(3));
        assert_eq!(c.clone().now(), Timestamp(3));
        let s = Clock::System;
        s.set(Timestamp(3));
        assert!(s.now() > Timestamp(1_700_000_000_000));
    }
}
