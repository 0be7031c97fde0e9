//! Sealed notes: free text that may name or describe people (an override's
//! reason, a loss's circumstances, a bar's reason, a complaint's summary) kept
//! out of the signed ledger.
//!
//! An entry signs only a [`SealedNote`], a salted commitment to the text. The
//! text and its salt, the [`NoteOpening`], live in an off-ledger note store on
//! the site and on the server, where readers with the right role can see them.
//! Erasing the opening at the end of its retention leaves every signature,
//! chain and proof intact: the entry still carries the commitment, and nobody
//! can recover or guess the text from it, because the 32-byte salt is random
//! and never leaves the note store.
//!
//! ```text
//! commitment = SHA-256("armsledger:sealed-note:v1\0" || salt (32 bytes) || text (UTF-8))
//! ```
//!
//! The salt has a fixed length and comes right after the fixed tag, so the
//! text is everything that follows and needs no length prefix. docs/formats.md
//! has the test vector that [`tests::vector`] checks.

use serde::{Deserialize, Serialize};

use crate::hash::{Hash, tag};
use crate::ids::{Name, Text, Timestamp};

/// The commitment an entry signs in place of a free-text field. Postcard
/// encodes it as 32 raw bytes; JSON as 64 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SealedNote(pub Hash);

impl SealedNote {
    /// The commitment's bytes, also the note's key in a note store.
    pub fn commitment(&self) -> &Hash {
        &self.0
    }

    /// The first 8 hex digits of the commitment: how a summary line names
    /// the note in place of its text.
    pub fn short(&self) -> String {
        self.0.to_string()[..8].to_string()
    }
}

/// `sealed note 5e22bcb5`: what a reader without the opening sees.
impl core::fmt::Display for SealedNote {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "sealed note {}", self.short())
    }
}

/// Why sealed notes were erased (the ground a `NotesErased` entry records).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErasureGround {
    /// The note's retention period ended (the server's retention policy).
    RetentionEnded,
    /// A lawful order, by its reference (a court order, a data-protection
    /// authority's decision).
    LawfulOrder(Name),
}

impl core::fmt::Display for ErasureGround {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ErasureGround::RetentionEnded => f.write_str("end of retention"),
            ErasureGround::LawfulOrder(order) => write!(f, "order {order}"),
        }
    }
}

/// What a reader is shown in place of a sealed note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "shown", rename_all = "kebab-case")]
pub enum NoteView {
    /// The text (the reader's role may read it and the opening is kept).
    Text {
        /// The commitment.
        note: SealedNote,
        /// The text.
        text: Text,
    },
    /// Only that a note exists (the reader's role may not read it, or its
    /// opening is not in this store).
    Sealed {
        /// The commitment.
        note: SealedNote,
    },
    /// The opening was erased by a `NotesErased` entry.
    Erased {
        /// The commitment.
        note: SealedNote,
        /// When it was erased (the entry's `erased_on`).
        on: Timestamp,
        /// Under what ground.
        ground: ErasureGround,
    },
}

impl NoteView {
    /// The commitment shown.
    pub fn note(&self) -> &SealedNote {
        match self {
            NoteView::Text { note, .. }
            | NoteView::Sealed { note }
            | NoteView::Erased { note, .. } => note,
        }
    }
}

/// `note erased on 2027-01-01 under order DPA-2027-4`, the text itself, or
/// `sealed note 5e22bcb5`.
impl core::fmt::Display for NoteView {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NoteView::Text { text, .. } => write!(f, "{text}"),
            NoteView::Sealed { note } => write!(f, "{note}"),
            NoteView::Erased { on, ground, .. } => {
                let day = on.to_string();
                let day = day.get(..10).unwrap_or(&day);
                match ground {
                    ErasureGround::RetentionEnded => {
                        write!(f, "note erased on {day} under the retention policy")
                    }
                    ErasureGround::LawfulOrder(order) => {
                        write!(f, "note erased on {day} under {order}")
                    }
                }
            }
        }
    }
}

/// What opens a sealed note: the text and the salt it was sealed with. Kept in
/// a note store, never in an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteOpening {
    /// 32 random bytes, fresh for every note.
    #[serde(with = "salt_hex")]
    pub salt: [u8; 32],
    /// The text.
    pub text: Text,
}

impl NoteOpening {
    /// An opening of `text` under `salt`. The salt must come from a
    /// cryptographic RNG and never be reused: see [`NoteOpening::random`].
    pub fn new(text: Text, salt: [u8; 32]) -> NoteOpening {
        NoteOpening { salt, text }
    }

    /// An opening of `text` under a fresh salt from the operating system's RNG.
    pub fn random(text: Text) -> NoteOpening {
        use rand_core::{OsRng, RngCore as _};
        let mut salt = [0u8; 32];
        OsRng.fill_bytes(&mut salt);
        NoteOpening { salt, text }
    }

    /// The commitment an entry signs for this text.
    pub fn seal(&self) -> SealedNote {
        SealedNote(Hash::of(&[
            tag::NOTE,
            &self.salt,
            self.text.as_str().as_bytes(),
        ]))
    }

    /// Whether this opening is the one `note` commits to.
    pub fn opens(&self, note: &SealedNote) -> bool {
        self.seal() == *note
    }
}

/// The salt as hex in JSON, raw bytes in postcard, as the rest of the model.
mod salt_hex {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(salt: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(salt))
        } else {
            salt.serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            let mut out = [0u8; 32];
            hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
            Ok(out)
        } else {
            <[u8; 32]>::deserialize(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opening(text: &str) -> NoteOpening {
        let mut salt = [0u8; 32];
        for (i, b) in salt.iter_mut().enumerate() {
            *b = i as u8;
        }
        NoteOpening::new(Text::new(text).unwrap(), salt)
    }

    /// The vector in docs/formats.md ("Sealed notes").
    #[test]
    fn vector() {
        let o = opening("Holster strap failed during patrol; weapon found by a passer-by.");
        assert_eq!(
            o.seal().0.to_string(),
            "5e22bcb567d72e555ae4001f7176a18a3091f1ba8ce15eed3429973f451abae0"
        );
    }

    /// The erasure vector in docs/formats.md ("Erasing a note"): the
    /// `NotesErased` event naming the vector's note, by a lawful order.
    #[test]
    fn erasure_vector() {
        use crate::event::{Event, RegulatorEvent};
        let note =
            opening("Holster strap failed during patrol; weapon found by a passer-by.").seal();
        let ev = Event::Regulator(RegulatorEvent::NotesErased {
            notes: vec![note],
            ground: ErasureGround::LawfulOrder(Name::new("DPA-2027-0412").unwrap()),
            erased_on: Timestamp::parse("2027-03-01").unwrap(),
        });
        assert_eq!(
            hex::encode(postcard::to_allocvec(&ev).unwrap()),
            "0113015e22bcb567d72e555ae4001f7176a18a3091f1ba8ce15eed3429973f451abae0010d4450412d323032372d3034313280908cf3bf34"
        );
    }

    #[test]
    fn views_say_what_the_reader_may_see() {
        let o = opening("x");
        let n = o.seal();
        assert_eq!(
            NoteView::Sealed { note: n }.to_string(),
            "sealed note 93efa960"
        );
        assert_eq!(
            NoteView::Text {
                note: n,
                text: o.text.clone()
            }
            .to_string(),
            "x"
        );
        let on = Timestamp::parse("2027-03-01").unwrap();
        let order = ErasureGround::LawfulOrder(Name::new("DPA-2027-0412").unwrap());
        assert_eq!(
            NoteView::Erased {
                note: n,
                on,
                ground: order
            }
            .to_string(),
            "note erased on 2027-03-01 under DPA-2027-0412"
        );
        assert_eq!(
            NoteView::Erased {
                note: n,
                on,
                ground: ErasureGround::RetentionEnded
            }
            .to_string(),
            "note erased on 2027-03-01 under the retention policy"
        );
    }

    #[test]
    fn the_opening_opens_its_own_note_and_no_other() {
        let a = opening("first");
        let b = opening("second");
        assert!(a.opens(&a.seal()));
        assert!(!a.opens(&b.seal()));
        let mut other_salt = a.clone();
        other_salt.salt[0] ^= 1;
        assert!(!other_salt.opens(&a.seal()), "another salt is another note");
    }

    #[test]
    fn fresh_salts_make_equal_texts_unlinkable() {
        let t = Text::new("barred: see file").unwrap();
        assert_ne!(
            NoteOpening::random(t.clone()).seal(),
            NoteOpening::random(t).seal()
        );
    }

    #[test]
    fn encodings() {
        let o = opening("x");
        let n = o.seal();
        assert_eq!(postcard::to_allocvec(&n).unwrap(), n.0.0.to_vec());
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains(&hex::encode(o.salt)), "{json}");
        assert_eq!(serde_json::from_str::<NoteOpening>(&json).unwrap(), o);
        let bytes = postcard::to_allocvec(&o).unwrap();
        assert_eq!(postcard::from_bytes::<NoteOpening>(&bytes).unwrap(), o);
    }
}
