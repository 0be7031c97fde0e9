//! Who and what the demo is about: companies, sites, guards, weapons and
//! lots, built from the seed, and the small helpers that turn literals into
//! the ledger's checked types.

use std::fmt::Debug;
use std::str::FromStr;

use anyhow::anyhow;
use armsledger_core::hash::Hash;
use armsledger_core::ids::{CompanyId, Country, PersonId, SiteId, Timestamp};
use armsledger_core::model::{
    AmmoType, Counterparty, DocKind, DocRef, FirearmIdentity, FirearmType, LotIdentity,
};

/// Guards licensed per site.
pub const GUARDS_PER_SITE: usize = 40;
/// Firearms acquired per site (pistols, then two shotguns).
pub const FIREARMS_PER_SITE: usize = 100;
/// Ammunition lots received per site.
pub const LOTS_PER_SITE: usize = 13;
/// Rounds per lot received.
pub const ROUNDS_PER_LOT: u64 = 3_000;
/// Guards whose pistol qualification lapses during the run (indexes 0..).
pub const EXPIRING_GUARDS: usize = 3;
/// Store locations registered for every site.
pub const LOCATIONS: [&str; 3] = ["vault", "rack-1", "range-store"];
/// The serial as it should have been typed, and as it was.
pub const MISTYPED: (&str, &str) = ("CZE-0917", "CZE-0971");

/// Parses a literal into a checked ledger type.
pub fn p<T: FromStr>(s: &str) -> anyhow::Result<T>
where
    T::Err: Debug,
{
    s.parse::<T>().map_err(|e| anyhow!("{s:?}: {e:?}"))
}

/// A deterministic stream of numbers from the seed (SHA-256 in counter mode).
#[derive(Clone, Debug)]
pub struct Rng {
    key: [u8; 32],
    n: u64,
}

impl Rng {
    /// A stream for `label` under `seed`.
    pub fn new(seed: u64, label: &str) -> Rng {
        Rng {
            key: Hash::of(&[
                b"armsledger-demo rng",
                &seed.to_le_bytes(),
                label.as_bytes(),
            ])
            .0,
            n: 0,
        }
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let h = Hash::of(&[&self.key, &self.n.to_le_bytes()]);
        self.n = self.n.wrapping_add(1);
        h.0.first_chunk::<8>().map_or(0, |b| u64::from_le_bytes(*b))
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n).unwrap_or(u64::MAX);
        if n64 == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % n64).unwrap_or(0)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        den > 0 && self.next_u64() % den < num
    }
}

/// A licensed guard and when their pistol qualification ends.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Person id.
    pub id: PersonId,
    /// End of the pistol qualification.
    pub qual_until: Timestamp,
}

/// One armoury.
#[derive(Clone, Debug)]
pub struct SitePlan {
    /// Position (0-based).
    pub index: usize,
    /// Site id.
    pub id: SiteId,
    /// Owning company.
    pub company: CompanyId,
    /// Display name.
    pub name: String,
    /// The armourer who records.
    pub armourer: PersonId,
    /// The supervisor who authorises overrides and approves corrections.
    pub supervisor: PersonId,
    /// Guards employed there.
    pub guards: Vec<Guard>,
}

/// A company.
#[derive(Clone, Debug)]
pub struct CompanyPlan {
    /// Company id.
    pub id: CompanyId,
    /// Legal name.
    pub name: String,
    /// Licence number.
    pub licence: String,
}

/// The whole scenario's cast and calendar.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The demo seed.
    pub seed: u64,
    /// Scenario day 0, 00:00 UTC.
    pub start: Timestamp,
    /// Days simulated.
    pub days: u64,
    /// Companies.
    pub companies: Vec<CompanyPlan>,
    /// Sites.
    pub sites: Vec<SitePlan>,
}

const SITE_NAMES: [&str; 8] = [
    "north", "south", "east", "west", "harbour", "airport", "mine", "depot",
];

impl Plan {
    /// Two companies (one when there is a single site); the last site goes
    /// to the second company.
    pub fn new(seed: u64, sites: usize, days: u64, start: Timestamp) -> anyhow::Result<Plan> {
        let mut companies = vec![CompanyPlan {
            id: p("acme-security")?,
            name: "Acme Security Ltd".into(),
            licence: "PSC-0001".into(),
        }];
        if sites >= 2 {
            companies.push(CompanyPlan {
                id: p("bastion-guarding")?,
                name: "Bastion Guarding (Pty) Ltd".into(),
                licence: "PSC-0002".into(),
            });
        }
        let mut plans = Vec::new();
        for i in 0..sites {
            let second = sites >= 2 && i + 1 == sites;
            let prefix = if second { "bastion" } else { "acme" };
            let company = if second {
                p("bastion-guarding")?
            } else {
                p("acme-security")?
            };
            let word = SITE_NAMES.get(i).copied().unwrap_or("annex");
            let id: SiteId = p(&format!("{prefix}-{word}"))?;
            let mut guards = Vec::new();
            for g in 0..GUARDS_PER_SITE {
                let qual_until = if g < EXPIRING_GUARDS {
                    // Lapses at 1/4, 2/4 and 3/4 of the run.
                    let day = (days * u64::try_from(g + 1).unwrap_or(1) / 4).max(1);
                    start.plus(day * Timestamp::DAY)
                } else {
                    start.plus((days + 400) * Timestamp::DAY)
                };
                guards.push(Guard {
                    id: p(&format!("{id}-guard-{:02}", g + 1))?,
                    qual_until,
                });
            }
            plans.push(SitePlan {
                index: i,
                armourer: p(&format!("{id}-armourer"))?,
                supervisor: p(&format!("{id}-supervisor"))?,
                name: format!(
                    "{} {} armoury",
                    if second { "Bastion" } else { "Acme" },
                    word
                ),
                id,
                company,
                guards,
            });
        }
        Ok(Plan {
            seed,
            start,
            days,
            companies,
            sites: plans,
        })
    }

    /// Scenario time at `day`, `hour`:`minute`.
    pub fn at(&self, day: u64, hour: u64, minute: u64) -> Timestamp {
        self.start
            .plus(day * Timestamp::DAY + hour * Timestamp::HOUR + minute * 60_000)
    }

    /// The end of the scenario (alerts are computed then).
    pub fn end(&self) -> Timestamp {
        self.start.plus(self.days * Timestamp::DAY)
    }

    /// The day of the special events, spread over the run.
    pub fn day_of(&self, tenths: u64) -> u64 {
        (self.days * tenths / 10).clamp(1, self.days.saturating_sub(1))
    }
}

/// The `n`th firearm of site `site` (pistols from three makers, then two shotguns).
pub fn firearm_identity(site: usize, n: usize) -> anyhow::Result<FirearmIdentity> {
    let serial_no = format!("{}{n:03}", site + 1);
    if n + 2 >= FIREARMS_PER_SITE {
        return identity(
            ("Remington", "870 Police"),
            FirearmType::Shotgun,
            "12/70",
            &format!("RMT-{serial_no}"),
            "US",
        );
    }
    let (maker, model, prefix, country) = match n % 3 {
        0 => ("Glock", "17 Gen5", "GLK", "AT"),
        1 => ("Ceska zbrojovka", "P-10 C", "CZE", "CZ"),
        _ => ("Beretta", "APX", "BRT", "IT"),
    };
    identity(
        (maker, model),
        FirearmType::Pistol,
        "9x19mm",
        &format!("{prefix}-{serial_no}"),
        country,
    )
}

/// A pistol identity with a given serial (the mistyped acquisition).
pub fn pistol_with_serial(serial: &str) -> anyhow::Result<FirearmIdentity> {
    identity(
        ("Ceska zbrojovka", "P-10 C"),
        FirearmType::Pistol,
        "9x19mm",
        serial,
        "CZ",
    )
}

fn identity(
    (maker, model): (&str, &str),
    kind: FirearmType,
    calibre: &str,
    serial: &str,
    country: &str,
) -> anyhow::Result<FirearmIdentity> {
    Ok(FirearmIdentity {
        manufacturer: p(maker)?,
        importer: Some(p("Arms Import Ltd")?),
        model: p(model)?,
        kind,
        category: p("B")?,
        calibre: p(calibre)?,
        serial: p(serial)?,
        markings: vec![],
        country_of_manufacture: Country::new(country).map_err(|e| anyhow!("{e:?}"))?,
        year_of_manufacture: Some(2024),
        country_of_import: Some(Country::new("ZA").map_err(|e| anyhow!("{e:?}"))?),
        year_of_import: Some(2025),
        components: vec![],
    })
}

/// The `k`th lot of site `site`.
pub fn lot_identity(site: usize, k: usize) -> anyhow::Result<LotIdentity> {
    Ok(LotIdentity {
        lot_number: p(&format!("PMP-25-{}{k:02}", site + 1))?,
        manufacturer: p("PMP")?,
        calibre: p("9x19mm")?,
        kind: AmmoType::FullMetalJacket,
        year: Some(2025),
    })
}

/// A document reference issued by the regulator.
pub fn doc(kind: DocKind, number: &str) -> anyhow::Result<DocRef> {
    Ok(DocRef {
        kind,
        number: p(number)?,
        issuer: p("Firearms Regulator")?,
        valid_until: None,
        content_hash: None,
    })
}

/// The licensed dealer firearms and rounds come from.
pub fn dealer() -> anyhow::Result<Counterparty> {
    Ok(Counterparty {
        name: p("Arms Import Ltd")?,
        licence: Some(p("DL-2291")?),
    })
}
