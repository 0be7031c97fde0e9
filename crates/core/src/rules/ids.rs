//! Rule identifiers. Each names the invariant it protects; docs/rules.md lists
//! every rule with the standard it comes from. The variant order is part of
//! the signed format (override entries name a rule): add new rules at the
//! end only.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A hard or soft rule. Postcard (the signed override entry, stored
/// findings) encodes it as its variant index; JSON as its kebab-case
/// [`RuleId::name`], the spelling the docs, the CLI and the API use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RuleId {
    /// Recipient holds an active security-officer licence.
    RecipientLicensed,
    /// Recipient's permit covers the weapon's category and calibre.
    PermitCoversWeapon,
    /// Recipient's qualification for the weapon type is current.
    QualificationCurrent,
    /// Recipient is not barred.
    RecipientNotBarred,
    /// Recipient's company (and the site's) is active.
    CompanyActive,
    /// The firearm is in store at this site.
    FirearmInStore,
    /// The issuer is not the recipient.
    IssuerNotRecipient,
    /// Ammunition calibre matches the firearm.
    CalibreMatches,
    /// A return matches an open issue of that firearm at this site.
    ReturnMatchesIssue,
    /// Rounds issued = rounds returned + rounds expended, per lot.
    RoundsReconcile,
    /// No ammunition balance goes below zero.
    BalanceNonNegative,
    /// A transfer in matches a transfer out to this site, not yet closed.
    TransferMatches,
    /// After disposal only corrections and annotations.
    DisposedIsFinal,
    /// A count has two counters, neither the custodian.
    CountTwoCounters,
    /// A disposal has an authorisation and two witnesses.
    DisposalAuthorised,
    /// Identity fields change only by a correction with a second approver.
    IdentityCorrectionApproved,
    /// An acquisition names a well-formed identity not already live.
    AcquisitionValid,
    /// A discharge on duty carries an incident reference.
    DischargeHasIncident,
    /// Storage locations are registered for the site.
    LocationRegistered,
    /// A correction, annotation or update names an entry that exists here.
    ReferenceExists,
    /// A recovery closes a loss or seizure of that firearm.
    RecoveryMatchesReport,
    /// An override's authoriser is a second person.
    OverrideSecondPerson,
    /// A firearm's history continues from its latest event (no fork).
    HistoryContinues,
    /// The site is registered and acts for its own company.
    SiteRegistered,
    /// Soft: an issue is past its due-back time.
    ReturnOverdue,
    /// Soft: a transfer is unacknowledged past the allowed time.
    TransferUnacknowledged,
    /// Soft: a loss report lacks police or regulator references after 48 hours.
    LossReferencesMissing,
    /// Soft: a licence, permit or qualification expires soon.
    ExpiringSoon,
    /// Soft: a serial-number count is overdue.
    CountOverdue,
    /// An entry was signed by a key past the counter at which the regulator
    /// chain later revoked or retired it: it no longer counts as the site's record.
    SignedAfterKeyEnd,
    /// Critical alert: one device key signed two different entries at one
    /// counter (a cloned or broken device); the proof is kept.
    KeyEquivocated,
    /// An entry's device time is ahead of the server's receipt time by more
    /// than the clock tolerance: the device clock ran ahead (or the server's
    /// ran behind). Deadlines already run from the receipt time.
    DeviceClockAhead,
    /// An override names a rule that cannot be overridden (see
    /// [`RuleId::why_not_overridable`]); it authorises nothing.
    OverrideNotAllowed,
    /// An act is recorded within the regulator's window after it occurred, and not before it occurred.
    RecordedInTime,
    /// Only rounds of a serviceable lot are issued.
    LotServiceable,
    /// The recipient is employed by the site's company or authorised for the site by the regulator.
    RecipientAuthorised,
    /// The armoury is opened and closed by two persons at least.
    ArmouryTwoPersons,
    /// A key is handed over by the person the roster says holds it.
    KeyRoster,
    /// A discrepancy is written off only with a second approver.
    WriteOffApproved,
    /// No firearm or rounds are issued to a person with an unresolved rounds shortfall.
    ShortfallUnresolved,
    /// An item leaving the ledger goes to a licensed counterparty (the police excepted), an export with an export licence.
    ExitDocumented,
    /// Soft: a loss was reported later than the regulator's deadline after its discovery.
    LossReportedLate,
    /// Soft: items of an acknowledged transfer never arrived and are neither found nor reported lost.
    MissingInTransit,
    /// Soft: a person holds more firearms at once than the regulator's limit.
    HolderLimit,
    /// Soft: the same lead counter led the site's last two counts.
    CounterRotates,
    /// Critical alert: an acquisition, transfer in or recovery names a
    /// firearm on the lost-and-stolen register (another site's open loss
    /// report, or a police or foreign notice).
    StolenHit,
    /// Soft: a trace request is unanswered past its deadline.
    TraceOverdue,
    /// A suspended company issues, assigns, acquires and receives nothing
    /// (it may still hand its stock over), nor may its guards be issued.
    CompanyNotSuspended,
    /// A company whose licence was withdrawn, or which ceased, likewise.
    CompanyNotCeased,
    /// The recipient's latest vetting did not fail and has not expired.
    RecipientVetted,
    /// A reinstatement lifts a suspension only; a withdrawn licence or a
    /// ceased company comes back only by a new licence.
    ReinstatementLiftsSuspension,
    /// The company's licence covers the category of each firearm it
    /// acquires or receives; a licence with no firearm category (unarmed
    /// guarding) takes in neither firearms nor ammunition.
    LicenceCoversCategory,
    /// The site's armoury approval, where one is recorded, is in force when
    /// firearms or ammunition come in.
    ApprovalInForce,
    /// Firearms coming in keep to the site approval's conditions: categories
    /// held and the most firearms present (issued out included).
    ApprovalConditions,
    /// A qualification counts only if its training provider was accredited
    /// when it was awarded.
    ProviderAccredited,
    /// Operational alert: the server's object-storage publisher is on an
    /// alarm (the store holds what this log did not write) or has been
    /// behind for longer than `publish.alert_lag_secs`.
    PublishBehind,
}

impl RuleId {
    /// Every rule, in order.
    pub const ALL: &'static [RuleId] = &[
        RuleId::RecipientLicensed,
        RuleId::PermitCoversWeapon,
        RuleId::QualificationCurrent,
        RuleId::RecipientNotBarred,
        RuleId::CompanyActive,
        RuleId::FirearmInStore,
        RuleId::IssuerNotRecipient,
        RuleId::CalibreMatches,
        RuleId::ReturnMatchesIssue,
        RuleId::RoundsReconcile,
        RuleId::BalanceNonNegative,
        RuleId::TransferMatches,
        RuleId::DisposedIsFinal,
        RuleId::CountTwoCounters,
        RuleId::DisposalAuthorised,
        RuleId::IdentityCorrectionApproved,
        RuleId::AcquisitionValid,
        RuleId::DischargeHasIncident,
        RuleId::LocationRegistered,
        RuleId::ReferenceExists,
        RuleId::RecoveryMatchesReport,
        RuleId::OverrideSecondPerson,
        RuleId::HistoryContinues,
        RuleId::SiteRegistered,
        RuleId::ReturnOverdue,
        RuleId::TransferUnacknowledged,
        RuleId::LossReferencesMissing,
        RuleId::ExpiringSoon,
        RuleId::CountOverdue,
        RuleId::SignedAfterKeyEnd,
        RuleId::KeyEquivocated,
        RuleId::DeviceClockAhead,
        RuleId::OverrideNotAllowed,
        RuleId::RecordedInTime,
        RuleId::LotServiceable,
        RuleId::RecipientAuthorised,
        RuleId::ArmouryTwoPersons,
        RuleId::KeyRoster,
        RuleId::WriteOffApproved,
        RuleId::ShortfallUnresolved,
        RuleId::ExitDocumented,
        RuleId::LossReportedLate,
        RuleId::MissingInTransit,
        RuleId::HolderLimit,
        RuleId::CounterRotates,
        RuleId::StolenHit,
        RuleId::TraceOverdue,
        RuleId::CompanyNotSuspended,
        RuleId::CompanyNotCeased,
        RuleId::RecipientVetted,
        RuleId::ReinstatementLiftsSuspension,
        RuleId::LicenceCoversCategory,
        RuleId::ApprovalInForce,
        RuleId::ApprovalConditions,
        RuleId::ProviderAccredited,
        RuleId::PublishBehind,
    ];

    /// Stable kebab-case name (CLI flags, JSON, reports).
    pub fn name(self) -> &'static str {
        use RuleId::*;
        match self {
            RecipientLicensed => "recipient-licensed",
            PermitCoversWeapon => "permit-covers-weapon",
            QualificationCurrent => "qualification-current",
            RecipientNotBarred => "recipient-not-barred",
            CompanyActive => "company-active",
            FirearmInStore => "firearm-in-store",
            IssuerNotRecipient => "issuer-not-recipient",
            CalibreMatches => "calibre-matches",
            ReturnMatchesIssue => "return-matches-issue",
            RoundsReconcile => "rounds-reconcile",
            BalanceNonNegative => "balance-non-negative",
            TransferMatches => "transfer-matches",
            DisposedIsFinal => "disposed-is-final",
            CountTwoCounters => "count-two-counters",
            DisposalAuthorised => "disposal-authorised",
            IdentityCorrectionApproved => "identity-correction-approved",
            AcquisitionValid => "acquisition-valid",
            DischargeHasIncident => "discharge-has-incident",
            LocationRegistered => "location-registered",
            ReferenceExists => "reference-exists",
            RecoveryMatchesReport => "recovery-matches-report",
            OverrideSecondPerson => "override-second-person",
            HistoryContinues => "history-continues",
            SiteRegistered => "site-registered",
            ReturnOverdue => "return-overdue",
            TransferUnacknowledged => "transfer-unacknowledged",
            LossReferencesMissing => "loss-references-missing",
            ExpiringSoon => "expiring-soon",
            CountOverdue => "count-overdue",
            SignedAfterKeyEnd => "signed-after-key-end",
            KeyEquivocated => "key-equivocated",
            DeviceClockAhead => "device-clock-ahead",
            OverrideNotAllowed => "override-not-allowed",
            RecordedInTime => "recorded-in-time",
            LotServiceable => "lot-serviceable",
            RecipientAuthorised => "recipient-authorised",
            ArmouryTwoPersons => "armoury-two-persons",
            KeyRoster => "key-roster",
            WriteOffApproved => "write-off-approved",
            ShortfallUnresolved => "shortfall-unresolved",
            ExitDocumented => "exit-documented",
            LossReportedLate => "loss-reported-late",
            MissingInTransit => "missing-in-transit",
            HolderLimit => "holder-limit",
            CounterRotates => "counter-rotates",
            StolenHit => "stolen-hit",
            TraceOverdue => "trace-overdue",
            CompanyNotSuspended => "company-not-suspended",
            CompanyNotCeased => "company-not-ceased",
            RecipientVetted => "recipient-vetted",
            ReinstatementLiftsSuspension => "reinstatement-lifts-suspension",
            LicenceCoversCategory => "licence-covers-category",
            ApprovalInForce => "approval-in-force",
            ApprovalConditions => "approval-conditions",
            ProviderAccredited => "provider-accredited",
            PublishBehind => "publish-behind",
        }
    }

    /// Whether the rule is hard (refused before signing unless overridden).
    pub fn is_hard(self) -> bool {
        !matches!(
            self,
            RuleId::ReturnOverdue
                | RuleId::TransferUnacknowledged
                | RuleId::LossReferencesMissing
                | RuleId::ExpiringSoon
                | RuleId::CountOverdue
                | RuleId::KeyEquivocated
                | RuleId::LossReportedLate
                | RuleId::MissingInTransit
                | RuleId::HolderLimit
                | RuleId::CounterRotates
                | RuleId::StolenHit
                | RuleId::TraceOverdue
                | RuleId::PublishBehind
        )
    }

    /// Whether a second person's override can make a finding of this rule an
    /// authorised exception. Only judgement calls can: not facts of the
    /// record, nor the regulator's decisions. docs/rules.md gives the list.
    pub fn is_overridable(self) -> bool {
        self.why_not_overridable().is_none()
    }

    /// Why an override of this rule is refused, for rules that cannot be
    /// overridden (`None` for those that can). The officer's tool shows it.
    pub fn why_not_overridable(self) -> Option<&'static str> {
        use RuleId::*;
        let why = match self {
            DisposedIsFinal => {
                "the firearm was destroyed or deactivated and nothing more can happen to it \
                 (if the disposal was recorded in error, correct that entry)"
            }
            RecipientNotBarred => {
                "a bar is the regulator's decision about this person; only the regulator lifts it"
            }
            CompanyNotSuspended | CompanyNotCeased => {
                "a suspension or a withdrawn licence is the regulator's decision about the \
                 company; only the regulator lifts it (the company may still hand its stock over)"
            }
            RecipientVetted => {
                "a failed or expired vetting is the regulator's finding about this person; \
                 only a new vetting changes it"
            }
            ReinstatementLiftsSuspension => {
                "a rule of the regulator's own chain; license the company again instead"
            }
            SiteRegistered => {
                "the regulator has not registered the site for that company; register it first"
            }
            ReferenceExists => {
                "the entry it names is not in the ledger (or cannot be corrected that way); \
                 an override does not make it exist"
            }
            HistoryContinues => "a fork of a firearm's history is a fact of the record",
            SignedAfterKeyEnd => "the regulator revoked or retired the key that signed it",
            DeviceClockAhead => "the device clock ran ahead of the server's: a fact of the record",
            KeyEquivocated => {
                "one key signed two entries at one counter: a cloned or broken device"
            }
            LicenceCoversCategory | ApprovalInForce | ApprovalConditions => {
                "the licence and the armoury approval are the regulator's decisions; \
                 only the regulator widens or renews them"
            }
            ProviderAccredited => {
                "accreditation of training providers is the regulator's decision; \
                 the person needs a qualification from an accredited provider"
            }
            OverrideSecondPerson | OverrideNotAllowed => {
                "an override is itself the exception; it cannot be overridden"
            }
            ReturnOverdue
            | TransferUnacknowledged
            | LossReferencesMissing
            | ExpiringSoon
            | CountOverdue
            | LossReportedLate
            | MissingInTransit
            | HolderLimit
            | CounterRotates
            | StolenHit
            | TraceOverdue
            | PublishBehind => "an alert refuses nothing, so there is nothing to override",
            RecipientLicensed
            | PermitCoversWeapon
            | QualificationCurrent
            | CompanyActive
            | FirearmInStore
            | IssuerNotRecipient
            | CalibreMatches
            | ReturnMatchesIssue
            | RoundsReconcile
            | BalanceNonNegative
            | TransferMatches
            | CountTwoCounters
            | DisposalAuthorised
            | IdentityCorrectionApproved
            | AcquisitionValid
            | DischargeHasIncident
            | LocationRegistered
            | RecoveryMatchesReport
            | RecordedInTime
            | LotServiceable
            | RecipientAuthorised
            | ArmouryTwoPersons
            | KeyRoster
            | WriteOffApproved
            | ShortfallUnresolved
            | ExitDocumented => return None,
        };
        Some(why)
    }

    /// How urgent an alert of this rule is: one mapping for the reports'
    /// summary columns and the console's dashboard. Hard rules refuse before
    /// signing rather than alert, so they are notices here.
    pub fn severity(self) -> AlertSeverity {
        self.urgency().0
    }

    /// The rule's place among alerts, most urgent first: its severity, then
    /// the order the dashboard lists them in (equivocations, lost-and-stolen
    /// hits; then overdue returns, items missing in transit, trace requests
    /// overdue; then expiries).
    pub fn urgency(self) -> (AlertSeverity, u8) {
        use AlertSeverity::*;
        use RuleId::*;
        match self {
            KeyEquivocated => (Critical, 0),
            StolenHit => (Critical, 1),
            ReturnOverdue => (Warning, 0),
            TransferUnacknowledged => (Warning, 1),
            MissingInTransit => (Warning, 2),
            TraceOverdue => (Warning, 3),
            LossReferencesMissing => (Warning, 4),
            LossReportedLate => (Warning, 5),
            CountOverdue => (Warning, 6),
            HolderLimit => (Warning, 7),
            // The server's own copy in object storage behind or refused.
            PublishBehind => (Warning, 8),
            ExpiringSoon => (Notice, 0),
            CounterRotates => (Notice, 1),
            _ => (Notice, 2),
        }
    }

    /// Looks a rule up by its name.
    pub fn from_name(s: &str) -> Option<RuleId> {
        RuleId::ALL.iter().copied().find(|r| r.name() == s)
    }
}

/// How urgent an alert is ([`RuleId::severity`]); ordered most urgent
/// first. Not part of any signed or stored format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertSeverity {
    /// A device or custody failure: act today (equivocations,
    /// lost-and-stolen hits).
    Critical,
    /// A rule of the trade missed: act this week (overdue returns, items
    /// missing in transit, trace requests overdue...).
    Warning,
    /// Something coming up (expiries, counter rotation).
    Notice,
}

impl AlertSeverity {
    /// Every severity, most urgent first.
    pub const ALL: [AlertSeverity; 3] = [
        AlertSeverity::Critical,
        AlertSeverity::Warning,
        AlertSeverity::Notice,
    ];

    /// Its lower-case name (`critical`, `warning`, `notice`).
    pub fn name(self) -> &'static str {
        match self {
            AlertSeverity::Critical => "critical",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Notice => "notice",
        }
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.name())
        } else {
            let index = RuleId::ALL
                .iter()
                .position(|r| r == self)
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(u32::MAX);
            s.serialize_unit_variant("RuleId", index, self.name())
        }
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{EnumAccess, Error, VariantAccess, Visitor};
        struct Index;
        impl<'de> Visitor<'de> for Index {
            type Value = RuleId;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a rule")
            }
            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<RuleId, A::Error> {
                let (index, variant): (u32, _) = data.variant()?;
                variant.unit_variant()?;
                usize::try_from(index)
                    .ok()
                    .and_then(|i| RuleId::ALL.get(i))
                    .copied()
                    .ok_or_else(|| A::Error::custom(format!("no rule number {index}")))
            }
        }
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            // Kebab-case; the CamelCase variant name of older JSON is read too.
            RuleId::from_name(&s)
                .or_else(|| RuleId::ALL.iter().copied().find(|r| format!("{r:?}") == s))
                .ok_or_else(|| D::Error::custom(format!("no rule named {s:?}")))
        } else {
            d.deserialize_enum("RuleId", &[], Index)
        }
    }
}

impl core::fmt::Display for RuleId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_spells_rules_in_kebab_case_and_postcard_by_index() {
        for (i, r) in RuleId::ALL.iter().enumerate() {
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.name()));
            assert_eq!(serde_json::from_str::<RuleId>(&json).unwrap(), *r);
            // The signed form is the variant index, as the derive wrote it.
            let bytes = postcard::to_allocvec(r).unwrap();
            assert_eq!(bytes, postcard::to_allocvec(&(i as u32)).unwrap(), "{r}");
            assert_eq!(postcard::from_bytes::<RuleId>(&bytes).unwrap(), *r);
        }
        assert_eq!(
            serde_json::from_str::<RuleId>("\"QualificationCurrent\"").unwrap(),
            RuleId::QualificationCurrent,
            "older JSON still reads"
        );
        assert!(serde_json::from_str::<RuleId>("\"no-such-rule\"").is_err());
        assert!(postcard::from_bytes::<RuleId>(&[200, 1]).is_err());
    }

    #[test]
    fn alert_severity_puts_equivocations_and_stolen_hits_first() {
        use AlertSeverity::*;
        // Firing: the urgent ones are critical, in the dashboard's order.
        assert_eq!(RuleId::KeyEquivocated.severity(), Critical);
        assert_eq!(RuleId::StolenHit.severity(), Critical);
        let order = [
            RuleId::KeyEquivocated,
            RuleId::StolenHit,
            RuleId::ReturnOverdue,
            RuleId::MissingInTransit,
            RuleId::TraceOverdue,
            RuleId::ExpiringSoon,
        ];
        assert!(order.windows(2).all(|w| w[0].urgency() < w[1].urgency()));
        // The server's publisher behind or on an alarm: a warning.
        assert_eq!(RuleId::PublishBehind.severity(), Warning);
        // Quiet: expiries and hard rules are notices, never critical.
        assert_eq!(RuleId::ExpiringSoon.severity(), Notice);
        assert_eq!(RuleId::RecipientLicensed.severity(), Notice);
        let critical: Vec<_> = RuleId::ALL
            .iter()
            .filter(|r| r.severity() == Critical)
            .collect();
        assert_eq!(critical.len(), 2);
        assert_eq!(
            AlertSeverity::ALL.map(AlertSeverity::name),
            ["critical", "warning", "notice"]
        );
    }
}
