//! The year itself: the regulator licenses the guards while every armoury
//! stocks its vault, then the armouries live the year day by day, each on
//! its own thread and in step (no armoury starts a day before all finished
//! the one before), syncing every few days. The regulator keeps the same
//! calendar: its oversight acts of a day are signed and pushed before the
//! next day starts, so an armoury sees them the day after at the latest.

use std::sync::Barrier;
use std::sync::atomic::Ordering;

use anyhow::bail;
use armsledger_agents::{RegulatorAgent, ServerClient};
use armsledger_device::host::Transport;

use super::armouries::{ArmouryRun, Common, Outcome};
use super::infra::DeviceFiles;
use super::oversight::{Oversight, OversightYear};
use super::progress::Progress;
use super::regulator;
use super::world::Plan;

/// Runs the year; returns the regulator's entries, its oversight acts and
/// each armoury's outcome, in plan order. If one part fails the others stop working (but
/// keep the calendar, so no one waits forever) and the first error is
/// returned.
pub fn run(
    reg: &mut RegulatorAgent<Box<dyn Transport>>,
    reg_dev: &DeviceFiles,
    reg_http: &ServerClient,
    armouries: Vec<ArmouryRun<'_, Box<dyn Transport>>>,
    plan: &Plan,
    common: &Common,
    progress: &Progress,
) -> anyhow::Result<(u64, Oversight, Vec<Outcome>)> {
    let n = armouries.len();
    let stocked = Barrier::new(n + 1);
    let daily = Barrier::new(n + 1);
    let (reg_result, outcomes) = std::thread::scope(|scope| {
        let reg_thread = scope.spawn(|| -> anyhow::Result<(u64, Oversight)> {
            let r = regulator::license_guards(reg, plan, || {
                common.entries.fetch_add(3, Ordering::Relaxed);
            })
            .and_then(|k| {
                reg.push(reg_http)?;
                Ok(k)
            });
            if r.is_err() {
                common.abort.store(true, Ordering::Relaxed);
            }
            stocked.wait();
            let mut year = OversightYear::new(plan, reg_dev);
            for d in 0..plan.days {
                let ok = r.is_ok() && !common.abort.load(Ordering::Relaxed);
                if ok && let Ok(y) = &mut year {
                    let signed = y.day(reg, d).and_then(|k| {
                        if k > 0 {
                            common.entries.fetch_add(k, Ordering::Relaxed);
                            reg.push(reg_http)?;
                        }
                        Ok(())
                    });
                    if let Err(e) = signed {
                        year = Err(e);
                    }
                }
                if year.is_err() {
                    common.abort.store(true, Ordering::Relaxed);
                }
                daily.wait();
            }
            let y = year?;
            Ok((r? + y.entries, y.record))
        });
        let handles: Vec<_> = armouries
            .into_iter()
            .map(|mut run| {
                let (stocked, daily) = (&stocked, &daily);
                scope.spawn(move || -> anyhow::Result<Outcome> {
                    let mut failed = run.acquire().err();
                    stocked.wait();
                    if failed.is_none() && !common.abort.load(Ordering::Relaxed) {
                        failed = run.sync().err();
                    }
                    for d in 0..plan.days {
                        if failed.is_none() && !common.abort.load(Ordering::Relaxed) {
                            failed = run.day(d).err();
                            if failed.is_some() {
                                common.abort.store(true, Ordering::Relaxed);
                            }
                        }
                        progress.day_done(d, common);
                        daily.wait();
                    }
                    match failed {
                        Some(e) => Err(e),
                        None if common.abort.load(Ordering::Relaxed) => {
                            bail!("stopped: another part of the demo failed")
                        }
                        None => run.finish(),
                    }
                })
            })
            .collect();
        let reg_result = reg_thread
            .join()
            .map_err(|_| anyhow::anyhow!("the regulator thread panicked"));
        let outcomes: Vec<anyhow::Result<Outcome>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a site thread panicked"))
                    .and_then(|r| r)
            })
            .collect();
        (reg_result, outcomes)
    });
    progress.finish();
    let (reg_entries, oversight) = reg_result??;
    let outcomes = outcomes.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok((reg_entries, oversight, outcomes))
}
