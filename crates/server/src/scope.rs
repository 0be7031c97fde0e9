//! Need to know: which regulator-chain entries a site receives when it
//! pulls, and the bar list it gets instead of the bars themselves; and the
//! same scope for a company or site token's exports and dossiers.
//!
//! A site (a company: all its sites) receives:
//!
//! * the **public register**: company licences and status changes, site
//!   registrations, training providers and the policy. A site that sends a
//!   transfer must check that the receiving site is registered to an active
//!   company, and an issue checks the recipient's employer is active;
//! * what concerns **its own company**: complaints, inspections, findings
//!   and sanctions against it, and the trace requests addressed to it;
//! * **its own persons**: those its company licensed (ever) and those
//!   authorised at the site, with their licences, permits, qualifications
//!   and revocations, and its own authorisations;
//! * **its own devices**' enrolments, retirements and revocations, and those
//!   of the sites whose transfers it receives in the same pull (to check
//!   their signatures);
//! * the **bar list**: who is barred and until when, never the bar entries
//!   (and so never the reasons);
//! * every **note erasure** (commitments, ground and date only), so that it
//!   deletes its own openings of the notes named.
//!
//! Every other entry (another company's persons, complaints, sanctions,
//! inspections and devices) stays on the server.

use std::collections::{BTreeMap, HashMap, HashSet};

use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::{Event, RegulatorEvent};
use armsledger_core::ids::{CompanyId, Ident, PersonId, SiteId, Timestamp};
use armsledger_core::oversight::Respondent;

/// The regulator chain as the checkpoint of `size` covers it, as
/// `(log index, entry)` in counter order: what a scope is computed over.
pub fn regulator_chain(
    reader: &armsledger_store::LogReader,
    size: u64,
) -> Result<Vec<(u64, SignedEntry)>, armsledger_store::StoreError> {
    let mut chain = Vec::new();
    for (_, index) in reader.chain_slots(&ChainId::Regulator, 1, usize::MAX)? {
        if index >= size {
            break;
        }
        if let Some(s) = reader.entry(index)? {
            chain.push((index, s.entry));
        }
    }
    Ok(chain)
}

/// One person on the bar list: barred until `until` (for good if none),
/// by the regulator entry at log index `index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    /// The person.
    pub person: PersonId,
    /// Until when; `None` is for good.
    pub until: Option<Timestamp>,
    /// The log index of the bar entry (the reason stays on the server).
    pub index: u64,
}

/// Whose scope: one site, or a company and all its sites.
#[derive(Clone, Debug)]
enum Party {
    Site(SiteId),
    Company(CompanyId),
}

/// What one site (or one company) may receive of the regulator chain.
#[derive(Debug)]
pub struct SiteScope {
    party: Party,
    /// The party's sites.
    sites: HashSet<SiteId>,
    company: Option<CompanyId>,
    /// Each own person and the regulator counter at which it entered scope.
    persons: HashMap<PersonId, u64>,
    complaints: HashSet<Ident>,
    inspections: HashSet<Ident>,
    findings: HashSet<Ident>,
    /// The latest bar per person.
    bars: BTreeMap<PersonId, Bar>,
}

impl SiteScope {
    /// The scope of `site` over the whole regulator chain, `chain` in
    /// counter order as `(log index, entry)`.
    pub fn of<'a>(site: &SiteId, chain: impl IntoIterator<Item = (u64, &'a SignedEntry)>) -> Self {
        SiteScope::over(Party::Site(site.clone()), chain)
    }

    /// The scope of `company` and all its sites, as [`SiteScope::of`].
    pub fn of_company<'a>(
        company: &CompanyId,
        chain: impl IntoIterator<Item = (u64, &'a SignedEntry)>,
    ) -> Self {
        SiteScope::over(Party::Company(company.clone()), chain)
    }

    /// The scope of a company or site role; `None` for roles that read
    /// everything.
    pub fn of_role<'a>(
        role: &crate::tokens::Role,
        chain: impl IntoIterator<Item = (u64, &'a SignedEntry)>,
    ) -> Option<Self> {
        use crate::tokens::Role;
        match role {
            Role::Regulator | Role::Auditor | Role::Police => None,
            Role::Company(c) => Some(SiteScope::of_company(c, chain)),
            Role::Site(s) => Some(SiteScope::of(s, chain)),
        }
    }

    fn over<'a>(party: Party, chain: impl IntoIterator<Item = (u64, &'a SignedEntry)>) -> Self {
        let company = match &party {
            Party::Company(c) => Some(c.clone()),
            Party::Site(_) => None,
        };
        let mut s = SiteScope {
            party,
            sites: HashSet::new(),
            company,
            persons: HashMap::new(),
            complaints: HashSet::new(),
            inspections: HashSet::new(),
            findings: HashSet::new(),
            bars: BTreeMap::new(),
        };
        for (index, e) in chain {
            let Event::Regulator(ev) = &e.body().event else {
                continue;
            };
            s.learn(index, e.counter(), ev);
        }
        s
    }

    fn learn(&mut self, index: u64, counter: u64, ev: &RegulatorEvent) {
        use RegulatorEvent::*;
        match ev {
            SiteRegistered { site, company, .. } => match &self.party {
                Party::Site(own) if own == site => {
                    self.company = Some(company.clone());
                    self.sites.insert(site.clone());
                }
                Party::Company(own) if own == company => {
                    self.sites.insert(site.clone());
                }
                _ => {}
            },
            PersonLicensed {
                person, company, ..
            } if self.company.as_ref() == Some(company) => {
                self.persons.entry(person.clone()).or_insert(counter);
            }
            PersonAuthorised { person, site, .. } if self.sites.contains(site) => {
                self.persons.entry(person.clone()).or_insert(counter);
            }
            ComplaintReceived {
                reference,
                against: Respondent::Company(company),
                ..
            } if self.company.as_ref() == Some(company) => {
                self.complaints.insert(reference.clone());
            }
            InspectionRecorded {
                reference, site, ..
            } if self.sites.contains(site) => {
                self.inspections.insert(reference.clone());
            }
            FindingRecorded {
                inspection,
                finding,
                company,
                ..
            } if self.company.as_ref() == Some(company)
                || self.inspections.contains(inspection) =>
            {
                self.findings.insert(finding.clone());
            }
            PersonBarred { person, until, .. } => {
                self.bars.insert(
                    person.clone(),
                    Bar {
                        person: person.clone(),
                        until: *until,
                        index,
                    },
                );
            }
            PersonUnbarred { person, .. } => {
                self.bars.remove(person);
            }
            // A corrected bar (its end moved) stands as the latest bar,
            // proven by the correction's entry.
            RegulatorCorrected { corrected, .. } => {
                if let PersonBarred { .. } = corrected.as_ref() {
                    self.learn(index, counter, corrected);
                }
            }
            _ => {}
        }
    }

    /// The site's company, once the regulator registered the site.
    pub fn company(&self) -> Option<&CompanyId> {
        self.company.as_ref()
    }

    /// Whether the party receives regulator entry `ev` (chain counter
    /// `counter`) in a pull that starts at counter `from`, `key_sites`
    /// being the other sites whose entries the same answer carries (the
    /// senders of its transfers, a weapon's earlier holders in a dossier):
    /// their device keys go with them. An entry before `from` is sent again
    /// only when its subject entered the scope at or after `from` (a person
    /// authorised here since the last pull). Exports ask with `from` 1.
    pub fn receives(
        &self,
        counter: u64,
        from: u64,
        ev: &RegulatorEvent,
        key_sites: &HashSet<SiteId>,
    ) -> bool {
        use RegulatorEvent::*;
        let fresh = counter >= from;
        let own_company = |c: &CompanyId| self.company.as_ref() == Some(c);
        let person = |p: &PersonId| {
            self.persons
                .get(p)
                .is_some_and(|entered| fresh || *entered >= from)
        };
        match ev {
            CompanyLicensed { .. }
            | CompanyStatusChanged { .. }
            | SiteRegistered { .. }
            | TrainingProviderAccredited { .. }
            | PolicySet { .. } => fresh,
            DeviceKeyEnrolled { site, .. }
            | DeviceKeyRetired { site, .. }
            | DeviceKeyRevoked { site, .. } => {
                (fresh && self.sites.contains(site)) || key_sites.contains(site)
            }
            PersonLicensed { person: p, .. }
            | PermitRecorded { person: p, .. }
            | QualificationRecorded { person: p, .. }
            | PersonRevoked { person: p, .. } => person(p),
            PersonAuthorised {
                person: p, site, ..
            } => self.sites.contains(site) && person(p),
            // The bar list stands in for these: the reason stays here.
            PersonBarred { .. } => false,
            // Complaints against the company; one against a person stays with
            // the regulator (the company hears of it from the regulator).
            ComplaintReceived {
                against: Respondent::Company(company),
                ..
            } => fresh && own_company(company),
            ComplaintReceived {
                against: Respondent::Person(_),
                ..
            } => false,
            ComplaintResolved { reference, .. } => fresh && self.complaints.contains(reference),
            InspectionRecorded { site, .. } => fresh && self.sites.contains(site),
            FindingRecorded {
                inspection,
                company,
                ..
            } => fresh && (own_company(company) || self.inspections.contains(inspection)),
            SanctionRecorded { company, .. } => fresh && own_company(company),
            FindingClosed { finding, .. } => fresh && self.findings.contains(finding),
            // The site judges `recipient-vetted`.
            VettingRecorded { person: p, .. } => person(p),
            // The bar list, sent whole at each pull, drops the person.
            PersonUnbarred { .. } => false,
            // A correction reaches whoever received what it corrects; a
            // corrected bar reaches no one (the bar list carries its end).
            RegulatorCorrected { corrected, .. } => {
                fresh
                    && !matches!(corrected.as_ref(), PersonBarred { .. })
                    && self.receives(counter, from, corrected, key_sites)
            }
            // The site's approval and its conditions, which its rules judge.
            SiteApproved { site, .. } => fresh && self.sites.contains(site),
            // Notes on the regulator's own entries stay with the regulator.
            RegulatorAnnotated { .. } => false,
            // Commitments, a ground and a date: nothing personal, and every
            // site must delete its own openings of the notes it names.
            NotesErased { .. } => fresh,
            // The company asked must see the request to answer it.
            TraceRequested { company, .. } => fresh && own_company(company),
            // An event this code does not know yet reaches no site: need to
            // know by default.
            _ => false,
        }
    }

    /// The bar list: every person barred for good or past `now`, without
    /// reasons, by person id.
    pub fn bars(&self, now: Timestamp) -> Vec<Bar> {
        self.bars
            .values()
            .filter(|b| b.until.is_none_or(|u| u > now))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use armsledger_core::testkit::{Scenario, v};

    use super::*;

    fn regulator(s: &Scenario) -> Vec<(u64, SignedEntry)> {
        s.log
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.body().event, Event::Regulator(_)))
            .map(|(i, e)| (i as u64, (**e).clone()))
            .collect()
    }

    #[test]
    fn another_companys_persons_and_bars_stay_out() {
        let mut s = Scenario::standard();
        s.company_with_site("other-co", "south");
        let chain = regulator(&s);
        let north = SiteScope::of(&v("north"), chain.iter().map(|(i, e)| (*i, e)));
        let south = SiteScope::of(&v("south"), chain.iter().map(|(i, e)| (*i, e)));
        assert_eq!(north.company(), Some(&v("acme")));
        assert_eq!(south.company(), Some(&v("other-co")));
        let none = HashSet::new();
        let mut north_persons = 0;
        for (_, e) in &chain {
            let Event::Regulator(ev) = &e.body().event else {
                unreachable!()
            };
            if let RegulatorEvent::PersonLicensed { company, .. } = ev {
                // Each site receives exactly its own company's licences.
                assert_eq!(
                    north.receives(e.counter(), 1, ev, &none),
                    company == &v("acme")
                );
                assert_eq!(
                    south.receives(e.counter(), 1, ev, &none),
                    company == &v("other-co")
                );
                north_persons += usize::from(company == &v("acme"));
            }
            if let RegulatorEvent::PersonBarred { .. } = ev {
                assert!(!north.receives(e.counter(), 1, ev, &none));
            }
        }
        assert!(north_persons > 0);
    }
}
