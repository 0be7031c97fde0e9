//! The rule table: each case starts from a world, records the act that
//! breaks its rules (the culprit) and, from the same world, the closest
//! legal act. One runner checks that every culprit raises exactly its rules
//! and only on itself; one checks that every legal act raises nothing; the
//! meta-test fails when a hard rule lacks either.
//!
//! To add a case, add a row to `cases()`:
//! `case(name, &[rules], setup).fires(culprit)`, and `.quiet(legal)` when
//! it has a legal twin. Both acts may record legal entries first; each
//! returns its last entry.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::{CompanyStatus, EntryRef, RegulatorEvent, Revocable, SiteEvent};
use armsledger_core::ids::{SiteId, Timestamp};
use armsledger_core::model::{
    AmmoLine, AmmoType, Condition, Counterparty, DocKind, ExitKind, ExpenditureReason, FirearmId,
    FirearmType, Item, LotIdentity, LotStatus, OfficerLicence, Permit, Resolution, RoundsBack,
    Validity,
};
use armsledger_core::oversight::{
    ComplaintOutcome, InspectionStage, Respondent, Sanction, Severity, VettingOutcome,
};
use armsledger_core::rules::RuleId::{self, *};
use armsledger_core::testkit::{self, Scenario, doc, enrolment, lot9, note, pistol, v};

use crate::common::{bogus_hash, issued, transfer_permit};
use crate::fixtures::*;

/// An act: records entries on the world and returns the last.
type Act = fn(&mut World) -> Arc<SignedEntry>;

/// One row of the table.
pub(crate) struct Case {
    /// What the culprit does wrong.
    name: &'static str,
    /// Exactly the rules the culprit breaks.
    rules: &'static [RuleId],
    /// The world before either act.
    setup: fn() -> World,
    /// Records the culprit (after any legal acts it needs).
    culprit: Act,
    /// Records the closest legal act; `None` for another way to break
    /// rules whose legal twin is elsewhere in the table.
    legal: Option<Act>,
}

/// A case being written: its name, rules and world, before its culprit.
pub(crate) struct Draft(&'static str, &'static [RuleId], fn() -> World);

pub(crate) fn case(name: &'static str, rules: &'static [RuleId], setup: fn() -> World) -> Draft {
    Draft(name, rules, setup)
}

impl Draft {
    pub(crate) fn fires(self, culprit: Act) -> Case {
        Case {
            name: self.0,
            rules: self.1,
            setup: self.2,
            culprit,
            legal: None,
        }
    }
}

impl Case {
    pub(crate) fn quiet(self, legal: Act) -> Case {
        Case {
            legal: Some(legal),
            ..self
        }
    }
}

/// Every case: hard rules in the order of docs/rules.md, each with its
/// legal twin, then other ways to break them.
fn cases() -> Vec<Case> {
    let mut all = vec![
        // --- who may receive a firearm ---------------------------------------
        case("licence revoked", &[RecipientLicensed], world)
            .fires(|w| {
                revoke(&mut w.s, "guard-1", Revocable::Licence);
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                revoke(&mut w.s, "guard-2", Revocable::Licence);
                issue(w, "guard-1", 0)
            }),
        case("an unknown person", &[RecipientLicensed], world).fires(|w| issue(w, "stranger", 0)),
        case(
            "licence, permit and qualification lapsed",
            &[RecipientLicensed, PermitCoversWeapon, QualificationCurrent],
            world,
        )
        .fires(|w| {
            w.s.guard("temp-1", "acme", 1);
            w.s.tick(2 * Timestamp::DAY);
            issue(w, "temp-1", 0)
        }),
        // The permit covers category B, calibre 9x19mm ("9x19 mm" normalises to it).
        case("a .45 pistol", &[PermitCoversWeapon], gun_only)
            .fires(|w| acquire_and_issue(w, pistol_with("C-45", ".45 ACP", "B")))
            .quiet(|w| acquire_and_issue(w, pistol_with("C-9", "9x19 mm", "B"))),
        case("a category C pistol", &[PermitCoversWeapon], gun_only).fires(|w| {
            crate::scope::license(&mut w.s, "acme", &["B", "C"]);
            acquire_and_issue(w, pistol_with("C-1", "9x19mm", "C"))
        }),
        // Revocation by number leaves the person's other permits.
        case("permit revoked", &[PermitCoversWeapon], world)
            .fires(|w| {
                revoke(&mut w.s, "guard-1", Revocable::Permit(v("PER-guard-1")));
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                second_permit(&mut w.s, "guard-1");
                revoke(&mut w.s, "guard-1", Revocable::Permit(v("PER-guard-1")));
                issue(w, "guard-1", 0)
            }),
        case("qualification revoked", &[QualificationCurrent], world)
            .fires(|w| {
                unqualify(&mut w.s, "guard-1");
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                unqualify(&mut w.s, "guard-2");
                issue(w, "guard-1", 0)
            }),
        // guard-1 is qualified on pistols only.
        case("a carbine", &[QualificationCurrent], gun_only).fires(|w| {
            let mut rifle = pistol_with("R-1", "9x19mm", "B");
            rifle.kind = FirearmType::Carbine;
            acquire_and_issue(w, rifle)
        }),
        case("barred for good", &[RecipientNotBarred], world)
            .fires(|w| {
                bar(&mut w.s, "guard-1", None);
                issue(w, "guard-1", 0)
            })
            // Barred for an hour; issued two hours later.
            .quiet(|w| {
                let until = w.s.now.plus(Timestamp::HOUR);
                bar(&mut w.s, "guard-1", Some(until));
                w.s.tick(2 * Timestamp::HOUR);
                issue(w, "guard-1", 0)
            }),
        case("company suspended", &[CompanyNotSuspended], world)
            .fires(|w| {
                set_company(&mut w.s, "acme", CompanyStatus::Suspended);
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                set_company(&mut w.s, "acme", CompanyStatus::Suspended);
                set_company(&mut w.s, "acme", CompanyStatus::Active);
                issue(w, "guard-1", 0)
            }),
        // guard-3 works for bravo; the pistol is at acme's site.
        case("another company's guard", &[RecipientAuthorised], two_sites)
            .fires(|w| issue(w, "guard-3", 0))
            .quiet(|w| {
                authorise(&mut w.s, "guard-3", "north");
                issue(w, "guard-3", 0)
            }),
        // A suspended company may still hand its stock to the police (and to
        // a licensed receiver): the one act a suspension must not block.
        case("a suspended company issues", &[CompanyNotSuspended], world)
            .fires(|w| {
                set_company(&mut w.s, "acme", CompanyStatus::Suspended);
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                set_company(&mut w.s, "acme", CompanyStatus::Suspended);
                let gun = w.gun;
                north(w, exit(gun, ExitKind::SurrenderedToPolice, None, vec![]))
            }),
        // --- the regulator's oversight acts (issue 18) ---------------------
        // A suspension by sanction blocks acquisitions; reinstated, it does not.
        case(
            "a sanctioned company acquires",
            &[CompanyNotSuspended],
            gun_only,
        )
        .fires(|w| {
            sanction(&mut w.s, "S-1", Sanction::Suspension);
            w.s.acquire("north", "AB-1").1
        })
        .quiet(|w| {
            sanction(&mut w.s, "S-1", Sanction::Suspension);
            set_company(&mut w.s, "acme", CompanyStatus::Active);
            w.s.acquire("north", "AB-1").1
        }),
        // A licence past its validity blocks as before (`company-active`).
        case("a lapsed licence acquires", &[CompanyActive], gun_only)
            .fires(|w| {
                relicense(&mut w.s, Timestamp::HOUR);
                w.s.tick(2 * Timestamp::HOUR);
                w.s.acquire("north", "AB-1").1
            })
            .quiet(|w| {
                relicense(&mut w.s, 3 * Timestamp::HOUR);
                w.s.tick(2 * Timestamp::HOUR);
                w.s.acquire("north", "AB-1").1
            }),
        // A withdrawn licence blocks as ceased, and the stock may still go.
        case("a withdrawn licence issues", &[CompanyNotCeased], world)
            .fires(|w| {
                sanction(&mut w.s, "S-1", Sanction::LicenceWithdrawal);
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                sanction(&mut w.s, "S-1", Sanction::LicenceWithdrawal);
                let gun = w.gun;
                north(w, exit(gun, ExitKind::SurrenderedToPolice, None, vec![]))
            }),
        // A fine is recorded and blocks nothing.
        case("a ceased company issues", &[CompanyNotCeased], world)
            .fires(|w| {
                set_company(&mut w.s, "acme", CompanyStatus::Ceased);
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                sanction(
                    &mut w.s,
                    "S-1",
                    Sanction::Fine {
                        amount_minor: 5_000_000,
                        currency: v("ZAR"),
                    },
                );
                issue(w, "guard-1", 0)
            }),
        // Reinstatement lifts a suspension only.
        case(
            "a ceased company reinstated",
            &[ReinstatementLiftsSuspension],
            world,
        )
        .fires(|w| {
            set_company(&mut w.s, "acme", CompanyStatus::Ceased);
            reinstate(&mut w.s)
        })
        .quiet(|w| {
            set_company(&mut w.s, "acme", CompanyStatus::Suspended);
            reinstate(&mut w.s)
        }),
        // The latest vetting counts: failed, or passed and expired, bars an issue.
        case("a failed vetting", &[RecipientVetted], world)
            .fires(|w| {
                vet(&mut w.s, "guard-1", VettingOutcome::Failed, 365);
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                vet(&mut w.s, "guard-1", VettingOutcome::Failed, 365);
                vet(&mut w.s, "guard-1", VettingOutcome::Passed, 365);
                issue(w, "guard-1", 0)
            }),
        case("an expired vetting", &[RecipientVetted], world)
            .fires(|w| {
                vet(&mut w.s, "guard-1", VettingOutcome::Passed, 1);
                w.s.tick(2 * Timestamp::DAY);
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                vet(&mut w.s, "guard-1", VettingOutcome::Passed, 3);
                w.s.tick(2 * Timestamp::DAY);
                issue(w, "guard-1", 0)
            }),
        // An unbarred person may be issued again.
        case("barred, not yet unbarred", &[RecipientNotBarred], world)
            .fires(|w| {
                bar(&mut w.s, "guard-1", None);
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                bar(&mut w.s, "guard-1", None);
                w.s.regulator(RegulatorEvent::PersonUnbarred {
                    person: v("guard-1"),
                    note: testkit::note("inquiry closed"),
                });
                issue(w, "guard-1", 0)
            }),
        // The regulator's own acts name what they act on.
        case("a complaint resolved unheard", &[ReferenceExists], world)
            .fires(|w| resolve_complaint(&mut w.s, "C-9"))
            .quiet(|w| {
                w.s.regulator(RegulatorEvent::ComplaintReceived {
                    reference: v("C-9"),
                    against: Respondent::Person(v("guard-1")),
                    summary: testkit::note("rude at the gate"),
                });
                resolve_complaint(&mut w.s, "C-9")
            }),
        case("a finding of no inspection", &[ReferenceExists], world)
            .fires(|w| finding(&mut w.s, "INS-1", "F-1"))
            .quiet(|w| {
                inspect(&mut w.s, "INS-1");
                finding(&mut w.s, "INS-1", "F-1")
            }),
        case("a finding closed twice", &[ReferenceExists], world)
            .fires(|w| {
                inspect(&mut w.s, "INS-1");
                finding(&mut w.s, "INS-1", "F-1");
                close_finding(&mut w.s, "F-1");
                close_finding(&mut w.s, "F-1")
            })
            .quiet(|w| {
                inspect(&mut w.s, "INS-1");
                finding(&mut w.s, "INS-1", "F-1");
                close_finding(&mut w.s, "F-1")
            }),
        case("an inspection of no site", &[SiteRegistered], world)
            .fires(|w| inspect_site(&mut w.s, "INS-1", "nowhere"))
            .quiet(|w| inspect_site(&mut w.s, "INS-1", "north")),
        case(
            "a device key revocation corrected",
            &[ReferenceExists],
            world,
        )
        .fires(|w| {
            let e = RegulatorEvent::DeviceKeyRevoked {
                site: v("north"),
                public_key: w.s.sites[&v("north")].public_key(),
                after_counter: u64::MAX,
                reason: note("typo"),
            };
            let target = w.s.regulator(e.clone()).hash();
            correct_regulator(&mut w.s, target, e)
        })
        .quiet(|w| {
            let valid = Validity {
                from: w.s.now,
                until: w.s.now.plus(Timestamp::DAY),
            };
            let e = RegulatorEvent::TrainingProviderAccredited {
                provider: v("range"),
                name: v("Range Academy"),
                valid,
            };
            let target = w.s.regulator(e.clone()).hash();
            correct_regulator(&mut w.s, target, e)
        }),
        // --- renewals: the licence valid at the act's time counts ----------
        case("a renewal not yet in force", &[RecipientLicensed], world)
            .fires(|w| {
                revoke(&mut w.s, "guard-1", Revocable::Licence);
                renew_licence(&mut w.s, "guard-1", 10);
                issue(w, "guard-1", 0)
            })
            .quiet(|w| {
                renew_licence(&mut w.s, "guard-1", 10);
                renew_permit(&mut w.s, "guard-1", 10);
                issue(w, "guard-1", 0)
            }),
        // --- when the act happened -----------------------------------------
        case("recorded two days after the act", &[RecordedInTime], world)
            .fires(|w| move_occurred(w, 2 * Timestamp::DAY))
            .quiet(|w| move_occurred(w, Timestamp::HOUR)),
        // --- lots, shortfalls, write-offs ------------------------------------
        case("rounds of a quarantined lot", &[LotServiceable], world)
            .fires(|w| {
                lot_status(w, LotStatus::Quarantined);
                issue(w, "guard-1", 10)
            })
            .quiet(|w| {
                lot_status(w, LotStatus::Quarantined);
                lot_status(w, LotStatus::Serviceable);
                issue(w, "guard-1", 10)
            }),
        case(
            "issued again over a shortfall",
            &[ShortfallUnresolved],
            world,
        )
        .fires(|w| {
            let i = issue(w, "guard-1", 30);
            returned(w, &i, 28, 1);
            issue(w, "guard-1", 0)
        })
        .quiet(|w| {
            let i = issue(w, "guard-1", 30);
            let r = returned(w, &i, 28, 1);
            settle(w, &r, Resolution::Clerical(note("miscounted at issue")));
            issue(w, "guard-1", 0)
        }),
        case("written off by one person", &[WriteOffApproved], world)
            .fires(|w| {
                let i = issue(w, "guard-1", 30);
                let r = returned(w, &i, 28, 1);
                settle(w, &r, write_off("armourer-1"))
            })
            .quiet(|w| {
                let i = issue(w, "guard-1", 30);
                let r = returned(w, &i, 28, 1);
                settle(w, &r, write_off("armourer-2"))
            }),
        case(
            "rounds fired on duty, no incident",
            &[DischargeHasIncident],
            world,
        )
        .fires(|w| {
            let i = issue(w, "guard-1", 30);
            let ev = returned_event(w, &i, 28, 2, None);
            north(w, ev)
        })
        .quiet(|w| {
            let i = issue(w, "guard-1", 30);
            let ev = returned_event(w, &i, 28, 2, Some("INC-7"));
            north(w, ev)
        }),
        // --- leaving the ledger ----------------------------------------------
        case("sold to a dealer with no licence", &[ExitDocumented], world)
            .fires(|w| {
                let gun = w.gun;
                north(w, exit(gun, ExitKind::SoldToDealer, None, vec![]))
            })
            .quiet(|w| {
                let gun = w.gun;
                north(w, exit(gun, ExitKind::SoldToDealer, Some("DL-77"), vec![]))
            }),
        case(
            "exported without an export licence",
            &[ExitDocumented],
            world,
        )
        .fires(|w| {
            let gun = w.gun;
            let docs = vec![doc(DocKind::EndUserCertificate, "EUC-1")];
            north(w, exit(gun, ExitKind::Exported, Some("US-FFL-1"), docs))
        })
        .quiet(|w| {
            let gun = w.gun;
            let docs = vec![
                doc(DocKind::ExportLicence, "EXP-1"),
                doc(DocKind::EndUserCertificate, "EUC-1"),
            ];
            north(w, exit(gun, ExitKind::Exported, Some("US-FFL-1"), docs))
        }),
        // --- armoury access ----------------------------------------------------
        case("opened by one person", &[ArmouryTwoPersons], world)
            .fires(|w| north(w, SiteEvent::ArmouryOpened { with: vec![] }))
            .quiet(|w| {
                north(
                    w,
                    SiteEvent::ArmouryOpened {
                        with: vec![v("armourer-2")],
                    },
                );
                north(
                    w,
                    SiteEvent::ArmouryClosed {
                        with: vec![v("armourer-2")],
                    },
                )
            }),
        case("closed by one person", &[ArmouryTwoPersons], world).fires(|w| {
            north(
                w,
                SiteEvent::ArmouryOpened {
                    with: vec![v("armourer-2")],
                },
            );
            north(
                w,
                SiteEvent::ArmouryClosed {
                    with: vec![v("armourer-1")],
                },
            )
        }),
        case(
            "a key handed over by who does not hold it",
            &[KeyRoster],
            world,
        )
        .fires(|w| {
            north(w, key("armourer-1", "armourer-2"));
            north(w, key("armourer-1", "guard-1"))
        })
        .quiet(|w| {
            north(w, key("armourer-1", "armourer-2"));
            north(w, key("armourer-2", "guard-1"))
        }),
        case("a revoked company acquires", &[CompanyNotCeased], gun_only).fires(|w| {
            set_company(&mut w.s, "acme", CompanyStatus::Revoked);
            w.s.acquire("north", "AB-1").1
        }),
        case("issued to themself", &[IssuerNotRecipient], world)
            .fires(|w| issue_by(w, "guard-1"))
            .quiet(|w| issue_by(w, "guard-2")),
        // --- custody ---------------------------------------------------------
        case("issued twice", &[FirearmInStore], world)
            .fires(|w| {
                issue(w, "guard-1", 0);
                issue(w, "guard-2", 0)
            })
            .quiet(|w| {
                let i = issue(w, "guard-1", 0);
                returned(w, &i, 0, 0);
                issue(w, "guard-2", 0)
            }),
        case("issued while in transit", &[FirearmInStore], two_sites).fires(|w| {
            transfer_out(w, 0);
            issue(w, "guard-1", 0)
        }),
        case("after south received it", &[FirearmInStore], two_sites).fires(|w| {
            let out = transfer_out(w, 0);
            transfer_in(w, &out, vec![w.gun], 0);
            issue(w, "guard-1", 0)
        }),
        case("moved from where it is not", &[FirearmInStore], world)
            .fires(|w| north(w, moved(Item::Firearm(w.gun), "rack-1", "vault"))),
        case("returned twice", &[ReturnMatchesIssue], world)
            .fires(|w| {
                let i = issue(w, "guard-1", 0);
                returned(w, &i, 0, 0);
                returned(w, &i, 0, 0)
            })
            .quiet(|w| {
                let i = issue(w, "guard-1", 0);
                returned(w, &i, 0, 0)
            }),
        case("a location not registered", &[LocationRegistered], world)
            .fires(|w| north(w, moved(Item::Firearm(w.gun), "vault", "closet")))
            .quiet(|w| north(w, moved(Item::Firearm(w.gun), "vault", "rack-1"))),
        case("acquired into a closet", &[LocationRegistered], gun_only)
            .fires(|w| acquire_identity(&mut w.s, pistol("AB-3"), "closet").1),
        case("rounds issued from nowhere", &[LocationRegistered], world).fires(|w| {
            let rounds = vec![AmmoLine {
                lot: w.lot,
                rounds: 10,
            }];
            let mut ev = issued(&w.s, w.gun, "guard-1", rounds);
            if let SiteEvent::Issued {
                ammunition_from, ..
            } = &mut ev
            {
                *ammunition_from = None;
            }
            north(w, ev)
        }),
        // --- ammunition ------------------------------------------------------
        case("5.56 rounds with a 9mm pistol", &[CalibreMatches], world)
            .fires(|w| issue_with_lot(w, lot_of("R-1", "5.56x45mm")))
            .quiet(|w| issue_with_lot(w, lot_of("L-2", "9X19-MM"))),
        case("one round too many back", &[RoundsReconcile], world)
            .fires(|w| {
                let i = issue(w, "guard-1", 30);
                returned(w, &i, 29, 2)
            })
            .quiet(|w| {
                let i = issue(w, "guard-1", 30);
                returned(w, &i, 28, 2)
            }),
        case("a lot never issued comes back", &[RoundsReconcile], world)
            .fires(|w| return_with_other_lot(w, 5))
            .quiet(|w| return_with_other_lot(w, 0)),
        case("more rounds issued than held", &[BalanceNonNegative], world)
            .fires(|w| issue(w, "guard-1", 501))
            .quiet(|w| issue(w, "guard-1", 500)),
        case("rounds from a bare rack", &[BalanceNonNegative], world).fires(|w| {
            let rounds = Item::Rounds(AmmoLine {
                lot: w.lot,
                rounds: 10,
            });
            north(w, moved(rounds, "rack-1", "vault"))
        }),
        case("disposed more than held", &[BalanceNonNegative], world)
            .fires(|w| north(w, dispose_rounds(w.lot, 501))),
        case("discharge, no incident", &[DischargeHasIncident], world)
            .fires(|w| discharge(w, None))
            .quiet(|w| discharge(w, Some("INC-2026-001"))),
        // --- acquisition -----------------------------------------------------
        // The same pistol acquired again while live (serial spelled differently).
        case("acquired twice", &[AcquisitionValid], world)
            .fires(|w| w.s.acquire("north", "ab-123").1)
            .quiet(|w| w.s.acquire("north", "AB-124").1),
        case("an id not from the identity", &[AcquisitionValid], gun_only).fires(|w| {
            let ev = SiteEvent::FirearmAcquired {
                firearm: FirearmId([7; 16]),
                identity: pistol("AB-1"),
                source: Counterparty {
                    name: v("Dealer"),
                    licence: None,
                },
                authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
                location: v("vault"),
            };
            north(w, ev)
        }),
        case("imported without importer", &[AcquisitionValid], gun_only).fires(|w| {
            let mut p = pistol("AB-2");
            p.importer = None;
            acquire_identity(&mut w.s, p, "vault").1
        }),
        case(
            "under an expired acquisition permit",
            &[AcquisitionValid],
            gun_only,
        )
        .fires(|w| acquire_under_permit(w, "AB-5", -1))
        .quiet(|w| acquire_under_permit(w, "AB-5", 1)),
        case("zero rounds received", &[AcquisitionValid], gun_only)
            .fires(|w| receive_identity(&mut w.s, lot9("L-0"), 0)),
        // --- transfers -------------------------------------------------------
        case("acknowledged twice", &[TransferMatches], two_sites)
            .fires(|w| {
                let out = transfer_out(w, 0);
                transfer_in(w, &out, vec![w.gun], 0);
                transfer_in(w, &out, vec![], 0)
            })
            .quiet(|w| {
                let out = transfer_out(w, 50);
                transfer_in(w, &out, vec![w.gun], 50)
            }),
        case("no transfer out at all", &[TransferMatches], two_sites).fires(|w| {
            let ev = SiteEvent::TransferredIn {
                transfer: EntryRef {
                    site: v("north"),
                    counter: 99,
                    hash: w.s.log.last().unwrap().hash(),
                },
                firearms: vec![],
                rounds: vec![],
                location: v("vault"),
                note: None,
            };
            south(w, ev)
        }),
        case("more rounds in than out", &[TransferMatches], two_sites).fires(|w| {
            let out = transfer_out(w, 50);
            transfer_in(w, &out, vec![w.gun], 51)
        }),
        // A short delivery is legal: what did not arrive is a discrepancy,
        // missing in transit. An excess is a finding.
        case("more rounds in than out", &[TransferMatches], two_sites)
            .fires(|w| {
                let out = transfer_out(w, 50);
                transfer_in(w, &out, vec![w.gun], 55)
            })
            .quiet(|w| {
                let out = transfer_out(w, 50);
                transfer_in(w, &out, vec![w.gun], 45)
            }),
        case("a firearm in, not out", &[TransferMatches], two_sites)
            .fires(|w| send_two(w, false))
            .quiet(|w| send_two(w, true)),
        case("the wrong document", &[TransferMatches], two_sites)
            .fires(|w| send_to(w, "south", "bravo", DocKind::AcquisitionPermit))
            .quiet(|w| send_to(w, "south", "bravo", DocKind::TransportPermit)),
        case("sent to an unregistered site", &[SiteRegistered], world)
            .fires(|w| send_to(w, "nowhere", "acme", DocKind::TransferAuthorisation)),
        // --- loss and recovery -----------------------------------------------
        // A report of one pistol does not recover another that is in store.
        case("under another's report", &[RecoveryMatchesReport], world)
            .fires(|w| {
                let (other, _) = w.s.acquire("north", "ZZ-9");
                let report = report_theft(w, other);
                north(w, recover(w.gun, &report))
            })
            .quiet(|w| {
                let report = report_theft(w, w.gun);
                north(w, recover(w.gun, &report))
            }),
        case("recovered twice", &[RecoveryMatchesReport], world)
            .fires(|w| {
                let report = report_theft(w, w.gun);
                north(w, recover(w.gun, &report));
                north(w, recover(w.gun, &report))
            })
            // Recovery under a seizure entry.
            .quiet(|w| {
                let seized = north(w, seize(w.gun));
                north(w, recover(w.gun, &seized))
            }),
        // --- counts ----------------------------------------------------------
        case("the custodian counts", &[CountTwoCounters], world)
            .fires(|w| north(w, full_count(w, &["armourer-1", "witness-1"])))
            .quiet(|w| north(w, full_count(w, &["witness-1", "witness-2"]))),
        case("one distinct counter", &[CountTwoCounters], world)
            .fires(|w| north(w, count(&["witness-1", "witness-1"], vec![w.gun], vec![]))),
        // --- disposal --------------------------------------------------------
        case("anything after destruction", &[DisposedIsFinal], world)
            .fires(|w| {
                destroy(w);
                north(w, maintenance_out(w.gun))
            })
            // After disposal: a correction of the disposal record and an annotation.
            .quiet(|w| {
                let d = destroy(w);
                north(w, correct_disposal_place(w.gun, &d));
                north(w, annotate(d.hash()))
            }),
        case("an issue after destruction", &[DisposedIsFinal], world).fires(|w| {
            destroy(w);
            issue(w, "guard-1", 0)
        }),
        // The officer names themself as one of the two witnesses.
        case("the officer as witness", &[DisposalAuthorised], world)
            .fires(|w| dispose(w, &["armourer-1", "witness-1"], DocKind::DisposalOrder))
            .quiet(|w| dispose(w, &["witness-1", "witness-2"], DocKind::CourtOrder)),
        case("one witness", &[DisposalAuthorised], world)
            .fires(|w| dispose(w, &["witness-1"], DocKind::DisposalOrder)),
        case("no disposal document", &[DisposalAuthorised], world)
            .fires(|w| dispose(w, &["witness-1", "witness-2"], DocKind::AcquisitionPermit)),
        case("an expired disposal order", &[DisposalAuthorised], world).fires(|w| {
            let mut ev = disposal(w.gun, &["witness-1", "witness-2"], DocKind::DisposalOrder);
            if let SiteEvent::Disposed { authorisation, .. } = &mut ev {
                authorisation.valid_until = Some(w.s.now.minus(Timestamp::DAY));
            }
            north(w, ev)
        }),
        // --- corrections, annotations, overrides -----------------------------
        // A corrected serial, then one the officer approves themself.
        case("no approver", &[IdentityCorrectionApproved], gun_only)
            .fires(|w| correct_serial(w, None))
            .quiet(|w| correct_serial(w, Some("armourer-2"))),
        case("self-approved", &[IdentityCorrectionApproved], gun_only)
            .fires(|w| correct_serial(w, Some("armourer-1"))),
        case("an annotation of nothing", &[ReferenceExists], world)
            .fires(|w| north(w, annotate(bogus_hash("x"))))
            .quiet(|w| {
                let i = issue(w, "guard-1", 0);
                north(w, annotate(i.hash()))
            }),
        case("an update of no loss report", &[ReferenceExists], world).fires(|w| {
            let ev = SiteEvent::LossReportUpdated {
                circumstances: None,
                report: bogus_hash("loss"),
                police_ref: Some(v("CAS-1")),
                regulator_ref: None,
            };
            north(w, ev)
        }),
        case("a resolution of no count", &[ReferenceExists], world).fires(|w| {
            let ev = SiteEvent::DiscrepancyResolved {
                count: bogus_hash("count"),
                item: Item::Firearm(w.gun),
                resolution: Resolution::Found,
            };
            north(w, ev)
        }),
        case("a correction into another kind", &[ReferenceExists], world).fires(|w| {
            let i = issue(w, "guard-1", 0);
            let ev = SiteEvent::Corrected {
                supersedes: i.hash(),
                reason: note("typo"),
                approver: Some(v("armourer-2")),
                corrected: Box::new(maintenance_out(w.gun)),
            };
            north(w, ev)
        }),
        case("authorised by its recorder", &[OverrideSecondPerson], world)
            .fires(|w| north(w, override_for_nothing(QualificationCurrent, "armourer-1")))
            .quiet(|w| north(w, override_for_nothing(QualificationCurrent, "armourer-2"))),
        // A destroyed firearm stays destroyed; a qualification is a judgement call.
        case("an override of a fact", &[OverrideNotAllowed], world)
            .fires(|w| north(w, override_for_nothing(DisposedIsFinal, "armourer-2")))
            .quiet(|w| north(w, override_for_nothing(QualificationCurrent, "armourer-2"))),
        // --- the ledger itself -----------------------------------------------
        // The third event of the pistol links to the first, skipping the second.
        case("a fork of one history", &[HistoryContinues], gun_only)
            .fires(|w| {
                let acq = Some(w.acq.hash());
                move_with_link(&mut w.s, w.gun, "vault", "rack-1", acq);
                move_with_link(&mut w.s, w.gun, "rack-1", "vault", acq)
            })
            .quiet(|w| {
                let m = move_with_link(&mut w.s, w.gun, "vault", "rack-1", Some(w.acq.hash()));
                move_with_link(&mut w.s, w.gun, "rack-1", "vault", Some(m.hash()))
            }),
        case("a restart of one history", &[HistoryContinues], gun_only)
            .fires(|w| move_with_link(&mut w.s, w.gun, "vault", "rack-1", None)),
        case("a site never registered", &[SiteRegistered], gun_only)
            .fires(|w| ghost_site(w, false))
            .quiet(|w| ghost_site(w, true)),
        // Synced before the revocation, signed past its counter.
        case("signed past its revocation", &[SignedAfterKeyEnd], gun_only)
            .fires(|w| {
                let e = move_with_link(&mut w.s, w.gun, "vault", "rack-1", Some(w.acq.hash()));
                revoke_north_key(&mut w.s, w.acq.counter());
                e
            })
            .quiet(|w| {
                let m = move_with_link(&mut w.s, w.gun, "vault", "rack-1", Some(w.acq.hash()));
                revoke_north_key(&mut w.s, m.counter());
                m
            }),
        // A day ahead of the receipt time; four minutes is within the tolerance.
        case("device clock a day ahead", &[DeviceClockAhead], gun_only)
            .fires(|w| move_signed_ahead(w, Timestamp::DAY))
            .quiet(|w| move_signed_ahead(w, 4 * 60 * 1000)),
    ];
    // Licence and approval scope, and accredited training.
    all.extend(crate::scope::cases());
    all
}

// ---------------------------------------------------------------------------
// Acts used by one row or two
// ---------------------------------------------------------------------------

/// An issue of the pistol to guard-1 by `officer`.
fn sanction(s: &mut Scenario, reference: &str, sanction: Sanction) -> Arc<SignedEntry> {
    s.regulator(RegulatorEvent::SanctionRecorded {
        reference: v(reference),
        company: v("acme"),
        sanction,
        finding: None,
        note: testkit::note("grounds"),
    })
}

/// Licenses acme again, valid from now for `ms`.
fn relicense(s: &mut Scenario, ms: u64) {
    let valid = Validity {
        from: s.now.minus(Timestamp::DAY),
        until: s.now.plus(ms),
    };
    s.regulator(RegulatorEvent::CompanyLicensed {
        company: v("acme"),
        name: v("Acme Security"),
        licence: v("PSC-2"),
        valid,
        categories: vec![v("B")],
    });
}

fn reinstate(s: &mut Scenario) -> Arc<SignedEntry> {
    s.regulator(RegulatorEvent::CompanyStatusChanged {
        company: v("acme"),
        status: CompanyStatus::Active,
        reason: testkit::note("put right"),
    })
}

fn vet(s: &mut Scenario, person: &str, outcome: VettingOutcome, days: u64) {
    let expires = s.now.plus(days * Timestamp::DAY);
    s.regulator(RegulatorEvent::VettingRecorded {
        person: v(person),
        outcome,
        expires,
        reference: v("V-1"),
    });
}

fn resolve_complaint(s: &mut Scenario, reference: &str) -> Arc<SignedEntry> {
    s.regulator(RegulatorEvent::ComplaintResolved {
        reference: v(reference),
        outcome: ComplaintOutcome::NotUpheld,
        note: testkit::note("no evidence"),
    })
}

fn inspect_site(s: &mut Scenario, reference: &str, site: &str) -> Arc<SignedEntry> {
    let at = s.now;
    s.regulator(RegulatorEvent::InspectionRecorded {
        reference: v(reference),
        site: v(site),
        stage: InspectionStage::Performed,
        at,
        note: testkit::note("routine"),
    })
}

fn inspect(s: &mut Scenario, reference: &str) -> Arc<SignedEntry> {
    inspect_site(s, reference, "north")
}

fn finding(s: &mut Scenario, inspection: &str, finding: &str) -> Arc<SignedEntry> {
    s.regulator(RegulatorEvent::FindingRecorded {
        inspection: v(inspection),
        finding: v(finding),
        site: v("north"),
        company: v("acme"),
        code: v("register-incomplete"),
        severity: Severity::Major,
        note: testkit::note("two issues unsigned"),
    })
}

fn close_finding(s: &mut Scenario, finding: &str) -> Arc<SignedEntry> {
    s.regulator(RegulatorEvent::FindingClosed {
        finding: v(finding),
        note: testkit::note("register completed"),
    })
}

fn correct_regulator(
    s: &mut Scenario,
    target: armsledger_core::hash::Hash,
    corrected: RegulatorEvent,
) -> Arc<SignedEntry> {
    s.regulator(RegulatorEvent::RegulatorCorrected {
        supersedes: target,
        reason: testkit::note("wrong person"),
        corrected: Box::new(corrected),
    })
}

fn issue_by(w: &mut World, officer: &str) -> Arc<SignedEntry> {
    let ev = issued(&w.s, w.gun, "guard-1", vec![]);
    w.s.site("north", officer, ev)
}

fn unqualify(s: &mut Scenario, person: &str) {
    let q = format!("Q-{person}");
    revoke(s, person, Revocable::Qualification(v(&q)));
}

/// A second 9mm permit for `person`, valid for 30 days.
fn second_permit(s: &mut Scenario, person: &str) {
    let valid = Validity {
        from: s.now.minus(Timestamp::DAY),
        until: s.now.plus(Timestamp::DAY * 30),
    };
    s.regulator(RegulatorEvent::PermitRecorded {
        person: v(person),
        permit: Permit {
            number: v(&format!("PER-{person}-b")),
            categories: vec![v("B")],
            calibres: vec![v("9x19mm")],
            valid,
        },
    });
}

/// A lot of `calibre` (spelled as given).
fn lot_of(number: &str, calibre: &str) -> LotIdentity {
    LotIdentity {
        lot_number: v(number),
        manufacturer: v("PMP"),
        calibre: v(calibre),
        kind: AmmoType::FullMetalJacket,
        year: None,
    }
}

/// Receives 100 rounds of `lot` and issues 10 of them with the pistol.
fn issue_with_lot(w: &mut World, lot: LotIdentity) -> Arc<SignedEntry> {
    let id = lot.id();
    receive_identity(&mut w.s, lot, 100);
    let rounds = vec![AmmoLine {
        lot: id,
        rounds: 10,
    }];
    north(w, issued(&w.s, w.gun, "guard-1", rounds))
}

/// Issues 30 rounds and returns them, with `other` rounds of a lot never issued.
fn return_with_other_lot(w: &mut World, other: u64) -> Arc<SignedEntry> {
    let i = issue(w, "guard-1", 30);
    let lot2 = w.s.receive("north", "L-2", 100);
    let mut ammunition = vec![RoundsBack {
        lot: w.lot,
        returned: 30,
        expended: 0,
    }];
    if other > 0 {
        ammunition.push(RoundsBack {
            lot: lot2,
            returned: other,
            expended: 0,
        });
    }
    let ev = SiteEvent::Returned {
        incident: None,
        issue: i.hash(),
        firearm: w.gun,
        condition: Condition::Serviceable,
        ammunition,
        location: v("vault"),
    };
    north(w, ev)
}

/// Issues 30 rounds; guard-1 fires 2 on duty, under `incident`.
fn discharge(w: &mut World, incident: Option<&str>) -> Arc<SignedEntry> {
    let i = issue(w, "guard-1", 30);
    let reason = ExpenditureReason::DutyDischarge;
    north(w, expended(w.lot, 2, reason, incident, &i))
}

/// North sends the pistol and a second one (or only the pistol) to south,
/// which acknowledges both.
fn send_two(w: &mut World, both: bool) -> Arc<SignedEntry> {
    let (second, _) = w.s.acquire("north", "AB-777");
    let ev = SiteEvent::TransferredOut {
        to_site: v("south"),
        to_company: v("bravo"),
        firearms: if both {
            vec![w.gun, second]
        } else {
            vec![w.gun]
        },
        rounds: vec![],
        rounds_from: None,
        permit: transfer_permit(),
        carrier: None,
    };
    let out = north(w, ev);
    transfer_in(w, &out, vec![w.gun, second], 0)
}

/// A transfer out of the pistol to `to_site` of `to_company` under `permit`.
fn send_to(w: &mut World, to_site: &str, to_company: &str, permit: DocKind) -> Arc<SignedEntry> {
    let ev = SiteEvent::TransferredOut {
        to_site: v(to_site),
        to_company: v(to_company),
        firearms: vec![w.gun],
        rounds: vec![],
        rounds_from: None,
        permit: doc(permit, "TA-9"),
        carrier: None,
    };
    north(w, ev)
}

/// A correction of the disposal `d` of `gun`: another place.
fn correct_disposal_place(gun: FirearmId, d: &SignedEntry) -> SiteEvent {
    let mut fixed = disposal(gun, &["witness-1", "witness-2"], DocKind::DisposalOrder);
    if let SiteEvent::Disposed { place, .. } = &mut fixed {
        *place = v("North furnace");
    }
    SiteEvent::Corrected {
        supersedes: d.hash(),
        reason: note("wrong place recorded"),
        approver: None,
        corrected: Box::new(fixed),
    }
}

/// `armourer-1` destroys the pistol before `witnesses`, under `kind`.
fn dispose(w: &mut World, witnesses: &[&str], kind: DocKind) -> Arc<SignedEntry> {
    north(w, disposal(w.gun, witnesses, kind))
}

/// `armourer-1` corrects the pistol's serial to AB-128, approved by `approver`.
fn correct_serial(w: &mut World, approver: Option<&str>) -> Arc<SignedEntry> {
    north(w, correction_of_acquisition(&w.acq, "AB-128", approver))
}

/// Acquires pistol `serial` under a permit that expires `days` days from now
/// (negative: already expired).
fn acquire_under_permit(w: &mut World, serial: &str, days: i64) -> Arc<SignedEntry> {
    let mut permit = doc(DocKind::AcquisitionPermit, "AP-9");
    let span = days.unsigned_abs() * Timestamp::DAY;
    permit.valid_until = Some(if days < 0 {
        w.s.now.minus(span)
    } else {
        w.s.now.plus(span)
    });
    let identity = pistol(serial);
    let ev = SiteEvent::FirearmAcquired {
        firearm: identity.id(),
        identity,
        source: Counterparty {
            name: v("Dealer"),
            licence: Some(v("DL-1")),
        },
        authorisation: permit,
        location: v("vault"),
    };
    north(w, ev)
}

/// The regulator authorises `person` for `site` for a year.
fn authorise(s: &mut Scenario, person: &str, site: &str) {
    let now = s.now;
    s.regulator(RegulatorEvent::PersonAuthorised {
        person: v(person),
        site: v(site),
        valid: Validity {
            from: now.minus(Timestamp::DAY),
            until: now.plus(365 * Timestamp::DAY),
        },
    });
}

/// The regulator records `person`'s renewed licence, in force from `days`
/// days on (a renewal recorded in advance).
fn renew_licence(s: &mut Scenario, person: &str, days: u64) {
    let from = s.now.plus(days * Timestamp::DAY);
    s.regulator(RegulatorEvent::PersonLicensed {
        person: v(person),
        company: v("acme"),
        identity_hash: armsledger_core::hash::Hash::of(&[person.as_bytes()]),
        licence: OfficerLicence {
            number: v(&format!("LIC2-{person}")),
            grade: v("A"),
            valid: Validity {
                from,
                until: from.plus(365 * Timestamp::DAY),
            },
        },
    });
}

/// The regulator records `person`'s permit renewed under the same number,
/// in force from `days` days on.
fn renew_permit(s: &mut Scenario, person: &str, days: u64) {
    let from = s.now.plus(days * Timestamp::DAY);
    s.regulator(RegulatorEvent::PermitRecorded {
        person: v(person),
        permit: Permit {
            number: v(&format!("PER-{person}")),
            categories: vec![v("B")],
            calibres: vec![v("9x19mm")],
            valid: Validity {
                from,
                until: from.plus(365 * Timestamp::DAY),
            },
        },
    });
}

/// A storage move of the pistol that occurred `ago` ms before it is signed.
fn move_occurred(w: &mut World, ago: u64) -> Arc<SignedEntry> {
    let gun = w.gun;
    let mut body = crate::common::body_for(
        &w.s,
        "north",
        "armourer-1",
        moved(Item::Firearm(gun), "vault", "rack-1"),
    );
    body.occurred_at = w.s.now.minus(ago);
    crate::common::sign_body(&mut w.s, "north", body)
}

/// North sets lot `L-1`'s status.
fn lot_status(w: &mut World, status: LotStatus) -> Arc<SignedEntry> {
    let lot = w.lot;
    north(
        w,
        SiteEvent::LotStatusChanged {
            lot,
            status,
            reason: note("inspection"),
        },
    )
}

/// Settles the rounds shortfall the return `r` opened.
fn settle(w: &mut World, r: &SignedEntry, resolution: Resolution) -> Arc<SignedEntry> {
    let lot = w.lot;
    north(
        w,
        SiteEvent::DiscrepancyResolved {
            count: r.hash(),
            item: Item::Rounds(AmmoLine { lot, rounds: 1 }),
            resolution,
        },
    )
}

/// A write-off approved by `approver`.
fn write_off(approver: &str) -> Resolution {
    Resolution::WrittenOff {
        reason: note("not recoverable"),
        approver: v(approver),
    }
}

/// The return of `issue` with `back` rounds back, `spent` expended.
fn returned_event(
    w: &World,
    issue: &SignedEntry,
    back: u64,
    spent: u64,
    incident: Option<&str>,
) -> SiteEvent {
    SiteEvent::Returned {
        issue: issue.hash(),
        firearm: w.gun,
        condition: Condition::Serviceable,
        ammunition: vec![RoundsBack {
            lot: w.lot,
            returned: back,
            expended: spent,
        }],
        incident: incident.map(v),
        location: v("vault"),
    }
}

/// `gun` leaves the ledger by `exit` to a counterparty with `licence`.
fn exit(
    gun: FirearmId,
    exit: ExitKind,
    licence: Option<&str>,
    documents: Vec<armsledger_core::model::DocRef>,
) -> SiteEvent {
    SiteEvent::LeftLedger {
        item: Item::Firearm(gun),
        exit,
        counterparty: Counterparty {
            name: v("Counterparty"),
            licence: licence.map(v),
        },
        documents,
    }
}

/// Key `k1` handed from `from` to `to`.
fn key(from: &str, to: &str) -> SiteEvent {
    SiteEvent::KeyHandedOver {
        key: v("k1"),
        from: v(from),
        to: v(to),
    }
}

/// An override of `rule` for no act in particular, authorised by `authoriser`.
fn override_for_nothing(rule: RuleId, authoriser: &str) -> SiteEvent {
    SiteEvent::Overridden {
        rule,
        reason: note("emergency"),
        authoriser: v(authoriser),
        act: bogus_hash("act"),
    }
}

/// Enrols a key for site `ghost` (registered by the regulator only if
/// `registered`) and annotates the regulator's first entry from it.
fn ghost_site(w: &mut World, registered: bool) -> Arc<SignedEntry> {
    let s = &mut w.s;
    let site: SiteId = v("ghost");
    let signer = testkit::SoftSigner::new("site-ghost", ChainId::Site(site.clone()));
    let root = s.root.clone();
    let ev = enrolment(&signer, &site, &root);
    s.sites.insert(site, signer);
    s.regulator(ev);
    if registered {
        s.regulator(RegulatorEvent::SiteRegistered {
            site: v("ghost"),
            company: v("acme"),
            name: v("ghost armoury"),
            approval: v("ARM-ghost"),
            locations: vec![v("vault")],
        });
    }
    let about = s.log[0].hash();
    s.site("ghost", "armourer-1", annotate(about))
}

/// The regulator revokes north's key after counter `after`.
fn revoke_north_key(s: &mut Scenario, after: u64) {
    let key = s.sites[&v("north")].public_key();
    s.regulator(RegulatorEvent::DeviceKeyRevoked {
        site: v("north"),
        public_key: key,
        after_counter: after,
        reason: note("device stolen"),
    });
}

/// A storage move of the pistol signed `ahead` ms after the receipt time
/// the server gives it.
fn move_signed_ahead(w: &mut World, ahead: u64) -> Arc<SignedEntry> {
    let received = w.s.now;
    w.s.now = w.s.now.plus(ahead);
    // The officer's clock is right: the act occurred when it was received.
    let gun = w.gun;
    let mut body = crate::common::body_for(
        &w.s,
        "north",
        "armourer-1",
        moved(Item::Firearm(gun), "vault", "rack-1"),
    );
    body.occurred_at = received;
    let e = crate::common::sign_body(&mut w.s, "north", body);
    w.s.received.insert(e.hash(), received);
    e
}

// ---------------------------------------------------------------------------
// The runners and the meta-test
// ---------------------------------------------------------------------------

/// Runs `judge` on every case, and fails naming each case that failed,
/// with its message. `judge` says whether the case applied.
fn run(judge: impl Fn(&Case) -> bool) {
    let mut failed = Vec::new();
    let mut ran = 0;
    for c in cases() {
        match catch_unwind(AssertUnwindSafe(|| judge(&c))) {
            Ok(applied) => ran += usize::from(applied),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failed.push(format!("{:?} ({}): {msg}", c.rules, c.name));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n\n")
    );
    assert!(ran > 0, "no case applied");
}

#[test]
fn every_culprit_raises_exactly_its_rules_and_only_on_itself() {
    run(|c| {
        let mut w = (c.setup)();
        let e = (c.culprit)(&mut w);
        check_fires(&w.s, &e, c.rules);
        true
    });
}

#[test]
fn every_legal_twin_raises_nothing() {
    run(|c| {
        let Some(legal) = c.legal else {
            return false;
        };
        let mut w = (c.setup)();
        legal(&mut w);
        check_quiet(&w.s);
        true
    });
}

#[test]
fn every_hard_rule_has_a_firing_and_a_quiet_case() {
    let cases = cases();
    for r in RuleId::ALL.iter().filter(|r| r.is_hard()) {
        assert!(
            cases.iter().any(|c| c.rules.contains(r)),
            "no case fires hard rule {r}"
        );
        assert!(
            cases
                .iter()
                .any(|c| c.rules.contains(r) && c.legal.is_some()),
            "no legal twin for hard rule {r}"
        );
    }
    for c in &cases {
        for r in c.rules {
            assert!(r.is_hard(), "{r} is not a hard rule ({})", c.name);
        }
    }
}
