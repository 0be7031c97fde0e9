//! The events a ledger records: what happened at an armoury (site events) and
//! what the regulator decided (regulator events). The variant order is part of
//! the signed format (postcard encodes the variant index); add new variants at
//! the end only, and treat any change here as a format change.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::ids::{
    CompanyId, Country, DeviceId, Ident, LocationId, Name, PersonId, SiteId, Timestamp,
};
use crate::model::{
    AmmoLine, Component, ComponentChange, Condition, CountKind, Counterparty, DisposalMethod,
    DocRef, ExitKind, ExpenditureReason, FirearmId, FirearmIdentity, Holder, Item, LossKind, LotId,
    LotIdentity, LotStatus, MaintenanceKind, OfficerLicence, Permit, Policy, Qualification,
    Reliance, Resolution, RoundsBack, Validity,
};
use crate::note::{ErasureGround, SealedNote};
use crate::oversight::{
    ComplaintOutcome, InspectionStage, Respondent, Sanction, Severity, VettingOutcome,
};
use crate::statements::{Attestation, DeviceCertificate, RetireStatement};

/// Any event. Site chains hold only `Site`, the regulator chain only `Regulator`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Something that happened at an armoury.
    Site(SiteEvent),
    /// A decision of the regulator.
    Regulator(RegulatorEvent),
}

/// A reference to an entry in another chain (a transfer in points at the
/// transfer out on the sender's chain).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntryRef {
    /// The chain it is on.
    pub site: SiteId,
    /// Its counter there.
    pub counter: u64,
    /// Its entry hash.
    pub hash: Hash,
}

/// Events recorded by an armoury, each signed by the site's device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SiteEvent {
    /// A firearm entered the armoury from outside the ledger.
    FirearmAcquired {
        /// Its ledger id (must equal `identity.id()`).
        firearm: FirearmId,
        /// Full identity as marked.
        identity: FirearmIdentity,
        /// Who it came from.
        source: Counterparty,
        /// Acquisition permit or import licence.
        authorisation: DocRef,
        /// Where it is stored.
        location: LocationId,
    },
    /// An ammunition lot (or more of one) was received from outside the ledger.
    AmmunitionReceived {
        /// Ledger id of the lot (must equal `identity.id()`).
        lot: LotId,
        /// Lot identity.
        identity: LotIdentity,
        /// Whole rounds received.
        rounds: u64,
        /// Supplier.
        source: Counterparty,
        /// Acquisition authorisation, if required.
        authorisation: Option<DocRef>,
        /// Where it is stored.
        location: LocationId,
    },
    /// A firearm (with rounds) was issued to a person; the acting officer is the issuer.
    Issued {
        /// The firearm.
        firearm: FirearmId,
        /// The recipient.
        to: PersonId,
        /// Purpose or service.
        purpose: SealedNote,
        /// Post or duty point.
        post: Name,
        /// When it is due back.
        due_back: Timestamp,
        /// Licence, permit and qualification relied on.
        reliance: Reliance,
        /// Rounds issued with it, per lot, from the given store location.
        ammunition: Vec<AmmoLine>,
        /// Store location the rounds come from.
        ammunition_from: Option<LocationId>,
    },
    /// An issued firearm came back.
    Returned {
        /// The issue entry (its entry hash on this chain).
        issue: Hash,
        /// The firearm (must match the issue).
        firearm: FirearmId,
        /// Condition on return.
        condition: Condition,
        /// Rounds back and expended, per lot.
        ammunition: Vec<RoundsBack>,
        /// Incident reference; required when rounds were expended on duty.
        incident: Option<Name>,
        /// Store location it goes back to.
        location: LocationId,
    },
    /// Rounds issued without a firearm (e.g. to a range session).
    AmmunitionIssued {
        /// Recipient.
        to: PersonId,
        /// Rounds per lot.
        lines: Vec<AmmoLine>,
        /// From which store location.
        from: LocationId,
        /// Purpose.
        purpose: SealedNote,
        /// Due back.
        due_back: Timestamp,
    },
    /// Rounds from an ammunition-only issue came back.
    AmmunitionReturned {
        /// The ammunition issue entry.
        issue: Hash,
        /// Rounds back and expended, per lot.
        lines: Vec<RoundsBack>,
        /// Store location they go back to.
        to: LocationId,
    },
    /// Rounds were used, outside a return (a discharge on duty, a test fire).
    AmmunitionExpended {
        /// Who held them.
        holder: Holder,
        /// Which lot and how many.
        line: AmmoLine,
        /// Why.
        reason: ExpenditureReason,
        /// Incident reference; required for a discharge on duty.
        incident: Option<Name>,
        /// The issue the rounds came from, if any.
        issue: Option<Hash>,
    },
    /// An item moved between storage locations inside the site.
    StorageMoved {
        /// What moved.
        item: Item,
        /// From where.
        from: LocationId,
        /// To where.
        to: LocationId,
    },
    /// Items left for another site; in transit until acknowledged.
    TransferredOut {
        /// Receiving site.
        to_site: SiteId,
        /// Receiving company.
        to_company: CompanyId,
        /// Firearms sent.
        firearms: Vec<FirearmId>,
        /// Rounds sent, from the given location.
        rounds: Vec<AmmoLine>,
        /// Where the rounds were taken from.
        rounds_from: Option<LocationId>,
        /// Transfer authorisation or transport permit.
        permit: DocRef,
        /// Carrier, if any.
        carrier: Option<Name>,
    },
    /// The receiving site acknowledges a transfer out, with what actually arrived.
    TransferredIn {
        /// The transfer-out entry on the sender's chain.
        transfer: EntryRef,
        /// Firearms received.
        firearms: Vec<FirearmId>,
        /// Rounds received.
        rounds: Vec<AmmoLine>,
        /// Where they are stored.
        location: LocationId,
        /// Note on any difference from what was sent.
        note: Option<SealedNote>,
    },
    /// The sender cancels a transfer not yet acknowledged; items return to store.
    TransferCancelled {
        /// The transfer-out entry on this chain.
        transfer: Hash,
        /// Why.
        reason: SealedNote,
        /// Where the items are stored again.
        location: LocationId,
    },
    /// Items reported lost or stolen.
    LossReported {
        /// What is missing.
        items: Vec<Item>,
        /// Category.
        kind: LossKind,
        /// Whose holding the items were lost from (rounds a guard lost come
        /// out of the guard's holding); `None` for the store.
        holder: Option<PersonId>,
        /// When the loss was discovered.
        discovered_at: Timestamp,
        /// Circumstances.
        circumstances: SealedNote,
        /// Police case number, once known.
        police_ref: Option<Name>,
        /// Regulator incident number, once known.
        regulator_ref: Option<Name>,
    },
    /// References added to an earlier loss report.
    LossReportUpdated {
        /// The loss report entry.
        report: Hash,
        /// Police case number.
        police_ref: Option<Name>,
        /// Regulator incident number.
        regulator_ref: Option<Name>,
        /// Circumstances learned since.
        circumstances: Option<SealedNote>,
    },
    /// A firearm was seized by an authority.
    Seized {
        /// The firearm.
        firearm: FirearmId,
        /// The authority.
        authority: Name,
        /// Order or seizure reference.
        order: Name,
    },
    /// A lost, stolen or seized firearm is back in the armoury.
    Recovered {
        /// The firearm.
        firearm: FirearmId,
        /// The loss or seizure entry this closes.
        report: Hash,
        /// Condition.
        condition: Condition,
        /// Where it is stored.
        location: LocationId,
    },
    /// A stock count (one part of a session; a large count spans entries).
    CountPerformed {
        /// Count session id.
        session: Ident,
        /// Kind of count.
        kind: CountKind,
        /// Storage locations the count covers; empty for the whole site. A
        /// partial count is judged only on what it covers.
        locations: Vec<LocationId>,
        /// This part's number, from 1.
        part: u16,
        /// Number of parts in the session.
        parts: u16,
        /// The counters (at least two, none the custodian).
        counters: Vec<PersonId>,
        /// Firearms seen.
        firearms_seen: Vec<FirearmId>,
        /// Rounds seen per lot.
        rounds_seen: Vec<AmmoLine>,
    },
    /// A count discrepancy was settled.
    DiscrepancyResolved {
        /// The count entry that raised it.
        count: Hash,
        /// The item.
        item: Item,
        /// How it was settled.
        resolution: Resolution,
    },
    /// A firearm left for maintenance, inspection or a test fire.
    MaintenanceOut {
        /// The firearm.
        firearm: FirearmId,
        /// Repair, inspection or test fire.
        kind: MaintenanceKind,
        /// Gunsmith or armourer.
        provider: Name,
        /// Why.
        reason: SealedNote,
    },
    /// A firearm came back from maintenance.
    MaintenanceIn {
        /// The firearm.
        firearm: FirearmId,
        /// Condition.
        condition: Condition,
        /// Work done.
        work: SealedNote,
        /// Where it is stored.
        location: LocationId,
    },
    /// A firearm or rounds were destroyed or deactivated.
    Disposed {
        /// What.
        item: Item,
        /// How.
        method: DisposalMethod,
        /// Where it was done.
        place: Name,
        /// At least two witnesses.
        witnesses: Vec<PersonId>,
        /// Disposal order.
        authorisation: DocRef,
        /// Destruction or deactivation certificate, if issued.
        certificate: Option<DocRef>,
    },
    /// Supersedes an earlier entry of this chain. The original stays; the
    /// current view folds the corrected event in.
    Corrected {
        /// The superseded entry (hash on this chain).
        supersedes: Hash,
        /// Why.
        reason: SealedNote,
        /// Second approver; required when identity fields change.
        approver: Option<PersonId>,
        /// The full corrected event.
        corrected: Box<SiteEvent>,
    },
    /// A note on an earlier entry; changes nothing.
    Annotated {
        /// The entry.
        about: Hash,
        /// The note.
        text: SealedNote,
    },
    /// Records a second person's authorisation to perform an act that breaks a
    /// hard rule. The act is named by its body hash and must follow on this chain.
    Overridden {
        /// The rule overridden.
        rule: crate::rules::RuleId,
        /// Why.
        reason: SealedNote,
        /// The second authoriser (not the acting officer).
        authoriser: PersonId,
        /// Body hash of the act it authorises.
        act: Hash,
    },
    /// The receiving site refuses a transfer; the items go back to the
    /// sender, whose `TransferCancelled` returns them to its store.
    TransferRejected {
        /// The transfer-out entry on the sender's chain.
        transfer: EntryRef,
        /// Why.
        reason: SealedNote,
    },
    /// A firearm or rounds left the ledger other than by destruction: sold
    /// or handed to a dealer or licensee outside the ledger, returned to a
    /// lessor, surrendered to the police, or exported.
    LeftLedger {
        /// What.
        item: Item,
        /// How.
        exit: ExitKind,
        /// Who received it, with its licence number.
        counterparty: Counterparty,
        /// The documents relied on (an export needs an export permit).
        documents: Vec<DocRef>,
    },
    /// A regulated component was fitted to or removed from a firearm.
    ComponentChanged {
        /// The firearm.
        firearm: FirearmId,
        /// Fitted or removed.
        change: ComponentChange,
        /// The component and its marking.
        component: Component,
        /// Why.
        reason: SealedNote,
    },
    /// The armoury was opened; the acting officer and the other persons
    /// present.
    ArmouryOpened {
        /// Persons present besides the acting officer.
        with: Vec<PersonId>,
    },
    /// The armoury was closed and secured.
    ArmouryClosed {
        /// Persons present besides the acting officer.
        with: Vec<PersonId>,
    },
    /// An armoury key changed hands.
    KeyHandedOver {
        /// Which key.
        key: Ident,
        /// Who handed it over.
        from: PersonId,
        /// Who took it.
        to: PersonId,
    },
    /// An ammunition lot's status changed.
    LotStatusChanged {
        /// The lot.
        lot: LotId,
        /// New status.
        status: LotStatus,
        /// Why.
        reason: SealedNote,
    },
    /// A firearm was assigned to a guard for a contract, long-term; ended by
    /// a `Returned` naming this entry.
    Assigned {
        /// The firearm.
        firearm: FirearmId,
        /// The guard.
        to: PersonId,
        /// The contract (client and post).
        contract: Name,
        /// When the assignment ends (its due-back time).
        until: Timestamp,
        /// Licence, permit and qualification relied on.
        reliance: Reliance,
    },
    /// The company's answer to a regulator's trace request
    /// (`RegulatorEvent::TraceRequested`), recorded on one of its site chains.
    TraceAnswered {
        /// The request's reference.
        request: Ident,
        /// What the company's records show about the serial.
        outcome: TraceOutcome,
        /// The firearms of this site the answer names (empty when none).
        firearms: Vec<FirearmId>,
    },
}

/// What a company's records show about a traced serial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceOutcome {
    /// The site holds it now.
    Held,
    /// The site held it once; its entries say where it went.
    FormerlyHeld,
    /// The company has no record of it.
    NeverHeld,
}

/// Who sent a lost-or-stolen notice: an agency's code and its country.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NoticeSource {
    /// The agency's code (e.g. a police force's or Interpol's).
    pub agency: Ident,
    /// Its country.
    pub country: Country,
}

/// A firearm as a notice describes it: as marked on it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NoticedFirearm {
    /// Maker as marked.
    pub manufacturer: Name,
    /// Model, when the notice gives it.
    pub model: Option<Name>,
    /// Serial as marked.
    pub serial: Name,
}

/// Why a lost-or-stolen notice was withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeWithdrawal {
    /// The firearm was recovered by its owner or the police.
    Recovered,
    /// The notice was entered in error.
    EnteredInError,
    /// The sending agency cancelled it.
    CancelledBySource,
}

/// A change of a company's licence status. A suspended company is
/// reinstated to `Active`; a revoked or ceased one comes back only by a new
/// `CompanyLicensed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum CompanyStatus {
    Active,
    Suspended,
    /// The licence was withdrawn.
    Revoked,
    /// The company ceased trading.
    Ceased,
}

/// What a person-level revocation removes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Revocable {
    /// The officer licence.
    Licence,
    /// A firearm permit, by number.
    Permit(Name),
    /// A qualification, by id.
    Qualification(Ident),
}

/// Events recorded by the regulator on its own chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RegulatorEvent {
    /// A company was licensed (or re-licensed).
    CompanyLicensed {
        /// The company.
        company: CompanyId,
        /// Legal name.
        name: Name,
        /// Licence number.
        licence: Name,
        /// Validity.
        valid: Validity,
        /// Firearm categories it may hold; none for a licence without
        /// firearms (unarmed guarding), which holds neither firearms nor
        /// ammunition (`licence-covers-category`).
        categories: Vec<Ident>,
    },
    /// A company's licence was suspended, revoked or reinstated.
    CompanyStatusChanged {
        /// The company.
        company: CompanyId,
        /// New status.
        status: CompanyStatus,
        /// Why.
        reason: SealedNote,
    },
    /// A site (armoury) was registered for a company.
    SiteRegistered {
        /// The site.
        site: SiteId,
        /// Its company.
        company: CompanyId,
        /// Name.
        name: Name,
        /// Armoury approval number.
        approval: Name,
        /// Approved storage locations.
        locations: Vec<LocationId>,
    },
    /// A device key was enrolled for a site after its attestation was checked.
    DeviceKeyEnrolled {
        /// The site whose chain it signs.
        site: SiteId,
        /// The device.
        device: DeviceId,
        /// Key epoch on that device.
        key_epoch: u32,
        /// The public key.
        public_key: [u8; 32],
        /// First counter it may sign.
        counter_start: u64,
        /// The manufacturer's certificate of the device.
        certificate: Box<DeviceCertificate>,
        /// The device's attestation of the key.
        attestation: Box<Attestation>,
    },
    /// A key was retired by its own final statement.
    DeviceKeyRetired {
        /// The site.
        site: SiteId,
        /// The retire statement signed by the retiring key.
        statement: RetireStatement,
    },
    /// A key was revoked: entries it signs after `after_counter` are invalid.
    DeviceKeyRevoked {
        /// The site.
        site: SiteId,
        /// The key.
        public_key: [u8; 32],
        /// Last counter that stays valid.
        after_counter: u64,
        /// Why.
        reason: SealedNote,
    },
    /// A person received a security-officer licence.
    PersonLicensed {
        /// The person.
        person: PersonId,
        /// Employer.
        company: CompanyId,
        /// Salted hash of the identifying data held off-ledger.
        identity_hash: Hash,
        /// The licence.
        licence: OfficerLicence,
    },
    /// A firearm permit was recorded for a person.
    PermitRecorded {
        /// The person.
        person: PersonId,
        /// The permit.
        permit: Permit,
    },
    /// A qualification was recorded for a person.
    QualificationRecorded {
        /// The person.
        person: PersonId,
        /// The qualification.
        qualification: Qualification,
    },
    /// A licence, permit or qualification was revoked.
    PersonRevoked {
        /// The person.
        person: PersonId,
        /// What.
        what: Revocable,
        /// Why.
        reason: SealedNote,
    },
    /// A person may no longer be issued firearms.
    PersonBarred {
        /// The person.
        person: PersonId,
        /// Why.
        reason: SealedNote,
        /// Until when, or for good.
        until: Option<Timestamp>,
    },
    /// A complaint was received. The complainant is never named: there is
    /// no field for them, and the summary is a sealed note.
    ComplaintReceived {
        /// Reference.
        reference: Ident,
        /// Whom it is against.
        against: Respondent,
        /// What is complained of (sealed; the text stays off the ledger).
        summary: SealedNote,
    },
    /// A complaint was resolved.
    ComplaintResolved {
        /// The complaint's reference.
        reference: Ident,
        /// How it ended.
        outcome: ComplaintOutcome,
        /// The reasons (sealed).
        note: SealedNote,
    },
    /// An inspection of a site was planned, or performed (the same
    /// reference, recorded again).
    InspectionRecorded {
        /// Reference.
        reference: Ident,
        /// The site.
        site: SiteId,
        /// Planned or performed.
        stage: InspectionStage,
        /// When it is planned for, or when it took place.
        at: Timestamp,
        /// Scope or summary (sealed).
        note: SealedNote,
    },
    /// A finding of an inspection, open until a `FindingClosed` names it.
    FindingRecorded {
        /// The inspection's reference.
        inspection: Ident,
        /// The finding's own reference.
        finding: Ident,
        /// The site it concerns.
        site: SiteId,
        /// The company answerable.
        company: CompanyId,
        /// The regulator's code for the breach (e.g. `register-incomplete`).
        code: Ident,
        /// How serious.
        severity: Severity,
        /// What was found (sealed).
        note: SealedNote,
    },
    /// A sanction on a company; a suspension and a licence withdrawal take
    /// effect on the company's status, a fine is recorded.
    SanctionRecorded {
        /// Reference.
        reference: Ident,
        /// The company.
        company: CompanyId,
        /// What.
        sanction: Sanction,
        /// The finding it follows from, if any.
        finding: Option<Ident>,
        /// Grounds (sealed).
        note: SealedNote,
    },
    /// A training provider was accredited.
    TrainingProviderAccredited {
        /// Provider id.
        provider: Ident,
        /// Name.
        name: Name,
        /// Validity.
        valid: Validity,
    },
    /// A person not employed by a site's company may receive firearms there
    /// (a contractor, a client's guard) during `valid`.
    PersonAuthorised {
        /// The person.
        person: PersonId,
        /// The site.
        site: SiteId,
        /// Validity.
        valid: Validity,
    },
    /// The regulator's numeric site rules, in force from this entry on.
    PolicySet {
        /// The policy.
        policy: Policy,
    },
    /// The openings of these sealed notes were erased from the note stores.
    /// The entries that carry the notes stay, and still verify; readers are
    /// shown "note erased on DATE under GROUND" where the text was.
    NotesErased {
        /// The notes erased (commitments carried by earlier entries).
        notes: Vec<SealedNote>,
        /// End of retention, or a lawful order by its reference.
        ground: ErasureGround,
        /// When the erasure takes effect.
        erased_on: Timestamp,
    },
    /// A notice from the police or from abroad that a firearm is lost or
    /// stolen: it enters the lost-and-stolen register.
    StolenNoticeRecorded {
        /// The notice's reference (the sender's, or the regulator's own).
        reference: Ident,
        /// Who sent it.
        source: NoticeSource,
        /// The firearm as marked.
        firearm: NoticedFirearm,
    },
    /// A notice leaves the register.
    StolenNoticeWithdrawn {
        /// The notice's reference.
        reference: Ident,
        /// Why.
        reason: NoticeWithdrawal,
    },
    /// The regulator asks a company what its records show about a serial,
    /// by a deadline; the company answers with `SiteEvent::TraceAnswered`.
    TraceRequested {
        /// The request's reference.
        reference: Ident,
        /// The serial as the requester typed it.
        serial: Name,
        /// The company asked.
        company: CompanyId,
        /// Answer by then.
        deadline: Timestamp,
    },
    /// An inspection finding was put right and closed.
    FindingClosed {
        /// The finding's reference.
        finding: Ident,
        /// How it was put right (sealed).
        note: SealedNote,
    },
    /// A bar on a person was lifted.
    PersonUnbarred {
        /// The person.
        person: PersonId,
        /// Why (sealed).
        note: SealedNote,
    },
    /// The outcome of a person's security vetting; its contents stay off
    /// the ledger. The latest one recorded counts (`recipient-vetted`).
    VettingRecorded {
        /// The person.
        person: PersonId,
        /// Passed or failed.
        outcome: VettingOutcome,
        /// When a passed vetting expires.
        expires: Timestamp,
        /// The vetting file's reference.
        reference: Ident,
    },
    /// Supersedes an earlier entry of the regulator chain. The original
    /// stays; the current view folds the corrected event in. Device-key
    /// events and entries about entries cannot be corrected.
    RegulatorCorrected {
        /// The superseded entry (hash on the regulator chain).
        supersedes: Hash,
        /// Why (sealed).
        reason: SealedNote,
        /// The full corrected event.
        corrected: Box<RegulatorEvent>,
    },
    /// A note on an earlier regulator entry; changes nothing.
    RegulatorAnnotated {
        /// The entry.
        about: Hash,
        /// The note (sealed).
        note: SealedNote,
    },
    /// A site's armoury approval with its expiry and conditions, in force
    /// from this entry on (a renewal replaces the one before). A site with
    /// none recorded is judged by its registration alone.
    SiteApproved {
        /// The site.
        site: SiteId,
        /// Armoury approval number.
        approval: Name,
        /// Validity; acquisitions and transfers in outside it are refused.
        valid: Validity,
        /// Firearm categories the armoury may hold; empty: no condition
        /// beyond the company licence's.
        categories: Vec<Ident>,
        /// Most firearms present at once (in store, issued out or in
        /// maintenance); `None`: no maximum.
        max_firearms: Option<u32>,
    },
}

/// What an event touches and so links into: a firearm's own history, or an
/// ammunition lot's history at this site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Subject {
    /// A firearm's history (across sites and companies).
    Firearm(FirearmId),
    /// A lot's history at the signing site.
    Lot(LotId),
}

impl SiteEvent {
    /// The subjects this event changes, sorted and without repeats. Each must
    /// appear exactly once in the entry's links. Counts observe without
    /// changing custody and are not linked; annotations, overrides and loss
    /// report updates refer to entries, not to items.
    pub fn subjects(&self) -> Vec<Subject> {
        use SiteEvent::*;
        let mut out = Vec::new();
        let lots = |v: &[AmmoLine], out: &mut Vec<Subject>| {
            out.extend(v.iter().map(|l| Subject::Lot(l.lot)));
        };
        let item = |i: &Item, out: &mut Vec<Subject>| match i {
            Item::Firearm(f) => out.push(Subject::Firearm(*f)),
            Item::Rounds(l) => out.push(Subject::Lot(l.lot)),
        };
        match self {
            FirearmAcquired { firearm, .. }
            | Seized { firearm, .. }
            | Recovered { firearm, .. }
            | MaintenanceOut { firearm, .. }
            | MaintenanceIn { firearm, .. }
            | ComponentChanged { firearm, .. }
            | Assigned { firearm, .. } => out.push(Subject::Firearm(*firearm)),
            AmmunitionReceived { lot, .. } | LotStatusChanged { lot, .. } => {
                out.push(Subject::Lot(*lot))
            }
            Issued {
                firearm,
                ammunition,
                ..
            } => {
                out.push(Subject::Firearm(*firearm));
                lots(ammunition, &mut out);
            }
            Returned {
                firearm,
                ammunition,
                ..
            } => {
                out.push(Subject::Firearm(*firearm));
                out.extend(ammunition.iter().map(|l| Subject::Lot(l.lot)));
            }
            AmmunitionIssued { lines, .. } => lots(lines, &mut out),
            AmmunitionReturned { lines, .. } => {
                out.extend(lines.iter().map(|l| Subject::Lot(l.lot)));
            }
            AmmunitionExpended { line, .. } => out.push(Subject::Lot(line.lot)),
            StorageMoved { item: i, .. }
            | Disposed { item: i, .. }
            | LeftLedger { item: i, .. } => item(i, &mut out),
            TransferredOut {
                firearms, rounds, ..
            }
            | TransferredIn {
                firearms, rounds, ..
            } => {
                out.extend(firearms.iter().map(|f| Subject::Firearm(*f)));
                lots(rounds, &mut out);
            }
            LossReported { items, .. } => items.iter().for_each(|i| item(i, &mut out)),
            DiscrepancyResolved { item: i, .. } => item(i, &mut out),
            Corrected { corrected, .. } => out = corrected.subjects(),
            TransferCancelled { .. }
            | LossReportUpdated { .. }
            | CountPerformed { .. }
            | Annotated { .. }
            | Overridden { .. }
            | TransferRejected { .. }
            | ArmouryOpened { .. }
            | ArmouryClosed { .. }
            | KeyHandedOver { .. }
            | TraceAnswered { .. } => {}
        }
        out.sort();
        out.dedup();
        out
    }

    /// The sealed notes this event carries, in field order (a correction's
    /// own reason first, then the corrected event's). The server accepts an
    /// opening beside an entry only for one of these.
    pub fn notes(&self) -> Vec<SealedNote> {
        use SiteEvent::*;
        match self {
            Issued { purpose, .. } | AmmunitionIssued { purpose, .. } => vec![*purpose],
            TransferredIn { note, .. } => note.iter().copied().collect(),
            TransferCancelled { reason, .. }
            | MaintenanceOut { reason, .. }
            | Overridden { reason, .. }
            | TransferRejected { reason, .. }
            | ComponentChanged { reason, .. }
            | LotStatusChanged { reason, .. } => vec![*reason],
            LossReported { circumstances, .. } => vec![*circumstances],
            LossReportUpdated { circumstances, .. } => circumstances.iter().copied().collect(),
            MaintenanceIn { work, .. } => vec![*work],
            Annotated { text, .. } => vec![*text],
            DiscrepancyResolved { resolution, .. } => match resolution {
                Resolution::Clerical(n) | Resolution::WrittenOff { reason: n, .. } => vec![*n],
                Resolution::Found | Resolution::ReportedLost(_) => Vec::new(),
            },
            Corrected {
                reason, corrected, ..
            } => {
                let mut out = vec![*reason];
                out.extend(corrected.notes());
                out
            }
            FirearmAcquired { .. }
            | AmmunitionReceived { .. }
            | Returned { .. }
            | AmmunitionReturned { .. }
            | AmmunitionExpended { .. }
            | StorageMoved { .. }
            | TransferredOut { .. }
            | Seized { .. }
            | Recovered { .. }
            | CountPerformed { .. }
            | Disposed { .. }
            | LeftLedger { .. }
            | ArmouryOpened { .. }
            | ArmouryClosed { .. }
            | KeyHandedOver { .. }
            | Assigned { .. }
            | TraceAnswered { .. } => Vec::new(),
        }
    }

    /// A stable short name for the event kind (used in indexes, reports and JSON).
    pub fn kind(&self) -> &'static str {
        use SiteEvent::*;
        match self {
            FirearmAcquired { .. } => "firearm-acquired",
            AmmunitionReceived { .. } => "ammunition-received",
            Issued { .. } => "issued",
            Returned { .. } => "returned",
            AmmunitionIssued { .. } => "ammunition-issued",
            AmmunitionReturned { .. } => "ammunition-returned",
            AmmunitionExpended { .. } => "ammunition-expended",
            StorageMoved { .. } => "storage-moved",
            TransferredOut { .. } => "transferred-out",
            TransferredIn { .. } => "transferred-in",
            TransferCancelled { .. } => "transfer-cancelled",
            LossReported { .. } => "loss-reported",
            LossReportUpdated { .. } => "loss-report-updated",
            Seized { .. } => "seized",
            Recovered { .. } => "recovered",
            CountPerformed { .. } => "count-performed",
            DiscrepancyResolved { .. } => "discrepancy-resolved",
            MaintenanceOut { .. } => "maintenance-out",
            MaintenanceIn { .. } => "maintenance-in",
            Disposed { .. } => "disposed",
            Corrected { .. } => "corrected",
            Annotated { .. } => "annotated",
            Overridden { .. } => "overridden",
            TransferRejected { .. } => "transfer-rejected",
            LeftLedger { .. } => "left-ledger",
            ComponentChanged { .. } => "component-changed",
            ArmouryOpened { .. } => "armoury-opened",
            ArmouryClosed { .. } => "armoury-closed",
            KeyHandedOver { .. } => "key-handed-over",
            LotStatusChanged { .. } => "lot-status-changed",
            Assigned { .. } => "assigned",
            TraceAnswered { .. } => "trace-answered",
        }
    }
}

impl RegulatorEvent {
    /// The sealed notes this event carries (`NotesErased` names notes, it
    /// carries none; a correction carries its reason and the corrected
    /// event's notes).
    pub fn notes(&self) -> Vec<SealedNote> {
        use RegulatorEvent::*;
        match self {
            CompanyStatusChanged { reason, .. }
            | DeviceKeyRevoked { reason, .. }
            | PersonRevoked { reason, .. }
            | PersonBarred { reason, .. } => vec![*reason],
            ComplaintReceived { summary: note, .. }
            | ComplaintResolved { note, .. }
            | InspectionRecorded { note, .. }
            | FindingRecorded { note, .. }
            | SanctionRecorded { note, .. }
            | FindingClosed { note, .. }
            | PersonUnbarred { note, .. }
            | RegulatorAnnotated { note, .. } => vec![*note],
            RegulatorCorrected {
                reason, corrected, ..
            } => {
                let mut v = vec![*reason];
                v.extend(corrected.notes());
                v
            }
            CompanyLicensed { .. }
            | SiteRegistered { .. }
            | DeviceKeyEnrolled { .. }
            | DeviceKeyRetired { .. }
            | PersonLicensed { .. }
            | PermitRecorded { .. }
            | QualificationRecorded { .. }
            | TrainingProviderAccredited { .. }
            | PersonAuthorised { .. }
            | PolicySet { .. }
            | NotesErased { .. }
            | StolenNoticeRecorded { .. }
            | StolenNoticeWithdrawn { .. }
            | TraceRequested { .. }
            | VettingRecorded { .. }
            | SiteApproved { .. } => Vec::new(),
        }
    }

    /// A stable short name for the event kind.
    pub fn kind(&self) -> &'static str {
        use RegulatorEvent::*;
        match self {
            CompanyLicensed { .. } => "company-licensed",
            CompanyStatusChanged { .. } => "company-status-changed",
            SiteRegistered { .. } => "site-registered",
            DeviceKeyEnrolled { .. } => "device-key-enrolled",
            DeviceKeyRetired { .. } => "device-key-retired",
            DeviceKeyRevoked { .. } => "device-key-revoked",
            PersonLicensed { .. } => "person-licensed",
            PermitRecorded { .. } => "permit-recorded",
            QualificationRecorded { .. } => "qualification-recorded",
            PersonRevoked { .. } => "person-revoked",
            PersonBarred { .. } => "person-barred",
            ComplaintReceived { .. } => "complaint-received",
            ComplaintResolved { .. } => "complaint-resolved",
            InspectionRecorded { .. } => "inspection-recorded",
            FindingRecorded { .. } => "finding-recorded",
            SanctionRecorded { .. } => "sanction-recorded",
            TrainingProviderAccredited { .. } => "training-provider-accredited",
            PersonAuthorised { .. } => "person-authorised",
            PolicySet { .. } => "policy-set",
            NotesErased { .. } => "notes-erased",
            StolenNoticeRecorded { .. } => "stolen-notice-recorded",
            StolenNoticeWithdrawn { .. } => "stolen-notice-withdrawn",
            TraceRequested { .. } => "trace-requested",
            FindingClosed { .. } => "finding-closed",
            PersonUnbarred { .. } => "person-unbarred",
            VettingRecorded { .. } => "vetting-recorded",
            RegulatorCorrected { .. } => "regulator-corrected",
            RegulatorAnnotated { .. } => "regulator-annotated",
            SiteApproved { .. } => "site-approved",
        }
    }
}

impl Event {
    /// The event kind's short name.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Site(e) => e.kind(),
            Event::Regulator(e) => e.kind(),
        }
    }

    /// The sealed notes this event carries.
    pub fn notes(&self) -> Vec<SealedNote> {
        match self {
            Event::Site(e) => e.notes(),
            Event::Regulator(e) => e.notes(),
        }
    }

    /// Subjects this event links into (regulator events link none).
    pub fn subjects(&self) -> Vec<Subject> {
        match self {
            Event::Site(e) => e.subjects(),
            Event::Regulator(_) => Vec::new(),
        }
    }
}
