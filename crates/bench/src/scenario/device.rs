//! Scenario 5: the simulated signing device, in-process and per socket
//! transport, through `armsledger_device::bench::run`.

use std::time::Duration;

use crate::limits::Limits;
use crate::report::Figure;

/// Runs each device case for `per_case`.
pub fn run(per_case: Duration, limits: &Limits) -> anyhow::Result<Vec<Figure>> {
    let figures = armsledger_device::bench::run(per_case)?;
    Ok(figures
        .iter()
        .map(|f| {
            Figure::new("5 device", &f.label, f.rate(), "sig/s")
                .against("ed25519 sign, 1 core", limits.sign)
        })
        .collect())
}
