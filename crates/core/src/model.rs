//! Reference data carried inside events: what a firearm, an ammunition lot, a
//! licence, a permit, a qualification and a document are. State (who holds
//! what, where) is never stored here: it is folded from events by `rules`.

use serde::{Deserialize, Serialize};

use crate::hash::{Hash, tag};
use crate::ids::{Country, Ident, LocationId, Name, PersonId, Text, Timestamp};
use crate::note::SealedNote;

/// A firearm's ledger id: 16 bytes derived from its manufacturer, model and
/// serial at first acquisition (v2). It never changes afterwards, even when a
/// mistyped serial is corrected, so one weapon keeps one history.
/// Postcard encodes it as 16 raw bytes; JSON as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirearmId(pub [u8; 16]);

impl FirearmId {
    /// Derives the id (v2) from the manufacturer, the model and the serial
    /// as marked. Maker and model are normalised ([`normalise`]); the serial
    /// is only upper-cased, its separators kept, so `AB-12345` and `AB1-2345`
    /// are two firearms (search still finds both under `ab12345`). Each
    /// field is length-prefixed, so no two field splits give one input.
    pub fn derive(manufacturer: &Name, model: &Name, serial: &Name) -> FirearmId {
        let maker = normalise(manufacturer.as_str());
        let model = normalise(model.as_str());
        let serial = serial_id_form(serial.as_str());
        let len = |s: &str| (s.len() as u64).to_be_bytes();
        let h = Hash::of(&[
            tag::FIREARM_ID,
            &len(&maker),
            maker.as_bytes(),
            &len(&model),
            model.as_bytes(),
            &len(&serial),
            serial.as_bytes(),
        ]);
        let mut id = [0u8; 16];
        id.copy_from_slice(h.0.get(..16).unwrap_or(&[0; 16]));
        FirearmId(id)
    }
}

/// The serial as the firearm id v2 takes it: upper case, separators and
/// inner spaces kept, surrounding spaces trimmed.
pub fn serial_id_form(serial: &str) -> String {
    serial.trim().chars().flat_map(char::to_uppercase).collect()
}

impl core::fmt::Display for FirearmId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl core::fmt::Debug for FirearmId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FirearmId({self})")
    }
}

/// An ammunition lot's ledger id, derived from manufacturer, lot number and
/// calibre. One lot may be held at several sites; balances are per site.
/// Postcard encodes it as 16 raw bytes; JSON as 32 lowercase hex digits (so
/// it can key a JSON object).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LotId(pub [u8; 16]);

impl LotId {
    /// Derives the id from the lot's identity.
    pub fn derive(lot: &LotIdentity) -> LotId {
        let h = Hash::of(&[
            tag::LOT_ID,
            normalise(lot.manufacturer.as_str()).as_bytes(),
            &[0],
            normalise(lot.lot_number.as_str()).as_bytes(),
            &[0],
            normalise(lot.calibre.as_str()).as_bytes(),
        ]);
        let mut id = [0u8; 16];
        id.copy_from_slice(h.0.get(..16).unwrap_or(&[0; 16]));
        LotId(id)
    }
}

impl core::fmt::Display for LotId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl core::fmt::Debug for LotId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "LotId({self})")
    }
}

/// Serde for a 16-byte id: raw bytes in postcard (the signed form), hex in
/// JSON.
macro_rules! id16_serde {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&hex::encode(self.0))
                } else {
                    self.0.serialize(s)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    <[u8; 16]>::deserialize(d).map($name)
                }
            }
        }

        impl core::str::FromStr for $name {
            type Err = BadId;
            fn from_str(s: &str) -> Result<Self, BadId> {
                let mut out = [0u8; 16];
                hex::decode_to_slice(s, &mut out).map_err(|_| BadId)?;
                Ok($name(out))
            }
        }
    };
}

/// Why a string is not a firearm or lot id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a firearm or lot id is 32 hex digits")]
pub struct BadId;

id16_serde!(FirearmId);
id16_serde!(LotId);

/// The search key for a serial or maker: upper case, with spaces, hyphens,
/// dots and slashes removed, so `ab-12 345` and `AB12345` meet.
pub fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '/' | '_'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// The kind of firearm, as a register records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum FirearmType {
    Pistol,
    Revolver,
    Rifle,
    Carbine,
    Shotgun,
    SubmachineGun,
    Other,
}

/// Where a marking came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum MarkingKind {
    Manufacturer,
    Import,
    State,
    Secondary,
    Deactivation,
}

/// One marking on a weapon or a component, with where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marking {
    /// The text exactly as marked.
    pub text: Name,
    /// Where on the weapon (e.g. "frame, left side").
    pub location: Name,
    /// Who applied it.
    pub kind: MarkingKind,
}

/// An essential component with markings of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ComponentKind {
    Frame,
    Receiver,
    Barrel,
    Slide,
    Cylinder,
    Bolt,
}

/// An essential component fitted to a firearm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Which part.
    pub kind: ComponentKind,
    /// Its serial or marking.
    pub marking: Name,
}

/// Everything that identifies a firearm. Changing any of it after acquisition
/// needs a correction with a second approver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirearmIdentity {
    /// Maker as marked.
    pub manufacturer: Name,
    /// Importer, when imported.
    pub importer: Option<Name>,
    /// Model name.
    pub model: Name,
    /// Kind of weapon.
    pub kind: FirearmType,
    /// National category (e.g. "B").
    pub category: Ident,
    /// Calibre or gauge, e.g. "9x19mm".
    pub calibre: Name,
    /// Serial exactly as marked on the frame or receiver.
    pub serial: Name,
    /// All markings and where they are.
    pub markings: Vec<Marking>,
    /// Country of manufacture.
    pub country_of_manufacture: Country,
    /// Year of manufacture, when known.
    pub year_of_manufacture: Option<u16>,
    /// Country of import, when imported.
    pub country_of_import: Option<Country>,
    /// Year of import, when imported.
    pub year_of_import: Option<u16>,
    /// Essential components and their markings.
    pub components: Vec<Component>,
}

impl FirearmIdentity {
    /// The ledger id this identity derives.
    pub fn id(&self) -> FirearmId {
        FirearmId::derive(&self.manufacturer, &self.model, &self.serial)
    }

    /// The normalised serial used for search.
    pub fn serial_key(&self) -> String {
        normalise(self.serial.as_str())
    }
}

/// The kind of ammunition in a lot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum AmmoType {
    FullMetalJacket,
    HollowPoint,
    Frangible,
    Buckshot,
    Slug,
    Blank,
    Training,
    Other,
}

/// What identifies an ammunition lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotIdentity {
    /// Lot or batch number as marked on the packaging.
    pub lot_number: Name,
    /// Maker.
    pub manufacturer: Name,
    /// Calibre or gauge; must match the firearm it is issued with.
    pub calibre: Name,
    /// Type of round.
    pub kind: AmmoType,
    /// Year of manufacture, when known.
    pub year: Option<u16>,
}

impl LotIdentity {
    /// The ledger id this identity derives.
    pub fn id(&self) -> LotId {
        LotId::derive(self)
    }
}

/// A quantity of rounds from one lot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmmoLine {
    /// The lot.
    pub lot: LotId,
    /// Whole rounds.
    pub rounds: u64,
}

/// Rounds of one lot coming back from an issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundsBack {
    /// The lot.
    pub lot: LotId,
    /// Rounds handed back.
    pub returned: u64,
    /// Rounds fired or otherwise used while out.
    pub expended: u64,
}

/// Kinds of authorisation document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum DocKind {
    AcquisitionPermit,
    ImportLicence,
    ExportLicence,
    TransportPermit,
    TransferAuthorisation,
    EndUserCertificate,
    DisposalOrder,
    DeactivationCertificate,
    PoliceReport,
    RegulatorIncident,
    CourtOrder,
    Other,
}

/// A reference to an authorisation document kept off the ledger; the content
/// hash binds the ledger to the scanned file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocRef {
    /// What kind of document.
    pub kind: DocKind,
    /// Its number.
    pub number: Name,
    /// Who issued it.
    pub issuer: Name,
    /// Until when it is valid, if it expires.
    pub valid_until: Option<Timestamp>,
    /// SHA-256 of the scanned file, if attached.
    pub content_hash: Option<Hash>,
}

/// Who a firearm or lot came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterparty {
    /// Name of the supplier.
    pub name: Name,
    /// Its licence or permit number, when it has one.
    pub licence: Option<Name>,
}

/// Validity period of a licence, permit or qualification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    /// First valid instant.
    pub from: Timestamp,
    /// First instant no longer valid.
    pub until: Timestamp,
}

impl Validity {
    /// Whether `t` lies in the period.
    pub fn covers(&self, t: Timestamp) -> bool {
        self.from <= t && t < self.until
    }
}

/// A security officer's licence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerLicence {
    /// Licence number.
    pub number: Name,
    /// Grade or type.
    pub grade: Ident,
    /// Validity.
    pub valid: Validity,
}

/// A firearm permit: which categories and calibres a person may carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permit {
    /// Permit number.
    pub number: Name,
    /// National categories covered.
    pub categories: Vec<Ident>,
    /// Calibres covered.
    pub calibres: Vec<Name>,
    /// Validity.
    pub valid: Validity,
}

/// A firearm qualification for one kind of weapon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qualification {
    /// Certificate id.
    pub id: Ident,
    /// Kind of weapon qualified on.
    pub weapon: FirearmType,
    /// Accredited provider that ran it.
    pub provider: Ident,
    /// Validity.
    pub valid: Validity,
}

/// What an issue relied on, snapshotted into the issue so an auditor sees why
/// it was allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reliance {
    /// Officer licence number.
    pub licence: Name,
    /// Firearm permit number.
    pub permit: Name,
    /// Qualification id.
    pub qualification: Ident,
}

/// Condition of a returned or recovered firearm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Condition {
    Serviceable,
    NeedsCleaning,
    Damaged,
    Unserviceable,
}

/// Why rounds were expended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ExpenditureReason {
    Training,
    Qualification,
    DutyDischarge,
    TestFire,
    Malfunction,
    Other,
}

/// Who holds rounds of a lot at a site: a storage location or a person.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Holder {
    /// In store at a location.
    Store(LocationId),
    /// Issued to a person.
    Person(PersonId),
}

impl core::fmt::Display for Holder {
    /// In words: `in store at vault-1`, `with g-0012`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Holder::Store(l) => write!(f, "in store at {l}"),
            Holder::Person(p) => write!(f, "with {p}"),
        }
    }
}

/// A loss or theft category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum LossKind {
    Theft,
    Robbery,
    Burglary,
    Loss,
    MissingInventory,
}

/// Kinds of stock count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum CountKind {
    Full,
    SerialNumber,
    Cyclic,
    KeyHandover,
    Opening,
    Closing,
}

/// How a firearm or lot left the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum DisposalMethod {
    Destroyed,
    Deactivated,
}

/// An item named by a loss, move or disposal: a firearm or rounds of a lot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// One firearm.
    Firearm(FirearmId),
    /// Rounds of one lot.
    Rounds(AmmoLine),
}

/// How a discrepancy was settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    /// The item was found; it was there after all.
    Found,
    /// Reclassified as a loss, reported in the named entry.
    ReportedLost(Hash),
    /// A clerical error, explained (a sealed note).
    Clerical(SealedNote),
    /// Written off: neither found nor a loss. Needs a second approver (not
    /// the acting officer).
    WrittenOff {
        /// Why (a sealed note).
        reason: SealedNote,
        /// The second approver.
        approver: PersonId,
    },
}

/// How a firearm or rounds left the ledger other than by destruction or
/// deactivation ([`DisposalMethod`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitKind {
    /// Sold or handed to a licensed dealer outside the ledger.
    SoldToDealer,
    /// Handed to another licensee outside the ledger.
    HandedToLicensee,
    /// Returned to the lessor it was leased from.
    ReturnedToLessor,
    /// Surrendered to the police.
    SurrenderedToPolice,
    /// Exported, with the counterparty's licence and an export permit.
    Exported,
}

impl ExitKind {
    /// A stable short word (A&D book disposition column, JSON, CLI).
    pub fn word(self) -> &'static str {
        match self {
            ExitKind::SoldToDealer => "sold-to-dealer",
            ExitKind::HandedToLicensee => "handed-to-licensee",
            ExitKind::ReturnedToLessor => "returned-to-lessor",
            ExitKind::SurrenderedToPolice => "surrendered-to-police",
            ExitKind::Exported => "exported",
        }
    }
}

/// Why a firearm is out for maintenance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MaintenanceKind {
    /// Repair or servicing.
    Repair,
    /// Inspection (proof, armourer's check).
    Inspection,
    /// Test fire.
    TestFire,
}

/// Whether a component is fitted to or removed from a firearm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComponentChange {
    /// Fitted.
    Fitted,
    /// Removed.
    Removed,
}

/// Whether an ammunition lot may be issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LotStatus {
    /// May be issued.
    #[default]
    Serviceable,
    /// Held back pending a check.
    Quarantined,
    /// Not to be used.
    Unserviceable,
}

/// The regulator's site rules that are numbers. One policy is in force for
/// every site; a later `PolicySet` replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// An act must be recorded within this many ms of when it occurred.
    pub record_within_ms: u64,
    /// A loss must be reported within this many ms of its discovery.
    pub loss_report_within_ms: u64,
    /// Most firearms one person may hold at once at a site (soft).
    pub max_firearms_per_holder: u16,
    /// A new site's grace before its first serial-number count is due, ms.
    pub count_grace_ms: u64,
}

impl Default for Policy {
    /// Research §4: record within 24 h, report a loss within 24 h, one
    /// firearm per holder, 30 days' grace for a new site.
    fn default() -> Self {
        Policy {
            record_within_ms: crate::ids::Timestamp::DAY,
            loss_report_within_ms: crate::ids::Timestamp::DAY,
            max_firearms_per_holder: 1,
            count_grace_ms: 30 * crate::ids::Timestamp::DAY,
        }
    }
}

/// Who the acting officer is and who else was present, for two-person rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witnesses(pub Vec<PersonId>);

impl Witnesses {
    /// Distinct witnesses.
    pub fn distinct(&self) -> usize {
        let mut v: Vec<&PersonId> = self.0.iter().collect();
        v.sort();
        v.dedup();
        v.len()
    }
}

/// A salted hash of a person's identifying data (name, national id, date of
/// birth): lets an inspector holding the record confirm it without the ledger
/// ever holding it.
pub fn person_hash(salt: &[u8; 16], identifying_data: &Text) -> Hash {
    Hash::of(&[tag::PERSON, salt, identifying_data.as_str().as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_in_json_and_raw_bytes_in_postcard() {
        let f = FirearmId([0xab; 16]);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(16)));
        assert_eq!(serde_json::from_str::<FirearmId>(&json).unwrap(), f);
        assert_eq!(postcard::to_allocvec(&f).unwrap(), vec![0xab; 16]);
        let l = LotId([1; 16]);
        assert_eq!(postcard::to_allocvec(&l).unwrap(), vec![1; 16]);
        let back: LotId = postcard::from_bytes(&[1; 16]).unwrap();
        assert_eq!(back, l);
        // A lot id keys a JSON object (reconciliation maps are keyed by lot).
        let mut m = std::collections::BTreeMap::new();
        m.insert(l, 3u64);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, format!("{{\"{}\":3}}", "01".repeat(16)));
        assert!(serde_json::from_str::<LotId>("\"zz\"").is_err());
    }

    #[test]
    fn firearm_id_v2_separates_models_and_where_the_separators_fall() {
        let n = |s: &str| Name::new(s).unwrap();
        let a = FirearmId::derive(&n("Glock"), &n("17"), &n("AB-12345"));
        assert_ne!(a, FirearmId::derive(&n("Glock"), &n("19"), &n("AB-12345")));
        assert_ne!(a, FirearmId::derive(&n("Glock"), &n("17"), &n("AB1-2345")));
        assert_ne!(a, FirearmId::derive(&n("Glock"), &n("17"), &n("AB12345")));
        // Case and surrounding spaces do not make another firearm.
        assert_eq!(a, FirearmId::derive(&n("GLOCK"), &n("17"), &n(" ab-12345")));
        // Length prefixes: moving bytes from one field to the next changes it.
        assert_ne!(
            FirearmId::derive(&n("AB"), &n("C"), &n("D")),
            FirearmId::derive(&n("A"), &n("BC"), &n("D"))
        );
        // Search still meets them all.
        assert_eq!(normalise("AB-12345"), normalise("AB1-2345"));
    }

    #[test]
    fn holders_read_as_words() {
        let store = Holder::Store("vault".parse().unwrap());
        let person = Holder::Person("g-12".parse().unwrap());
        assert_eq!(store.to_string(), "in store at vault");
        assert_eq!(person.to_string(), "with g-12");
    }
}
