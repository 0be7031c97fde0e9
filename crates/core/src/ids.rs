//! Identifiers, bounded strings and time: the small value types every record
//! is built from. Each constructor holds its invariant, and decoding goes
//! through the constructor, so an invalid value never exists in memory.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string was refused as an identifier or bounded text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadValue {
    /// Empty where a value is required.
    #[error("{what} must not be empty")]
    Empty {
        /// The kind of value.
        what: &'static str,
    },
    /// Longer than allowed.
    #[error("{what} is longer than {max} bytes")]
    TooLong {
        /// The kind of value.
        what: &'static str,
        /// The limit in bytes.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("{what} contains {ch:?}, which is not allowed")]
    BadChar {
        /// The kind of value.
        what: &'static str,
        /// The first offending character.
        ch: char,
    },
}

/// Longest identifier, in bytes.
pub const MAX_IDENT: usize = 64;
/// Longest short name (a model, a serial as marked, a document number), in bytes.
pub const MAX_NAME: usize = 128;
/// Longest free text (a reason, a note), in bytes.
pub const MAX_TEXT: usize = 1024;

fn check_ident(what: &'static str, s: &str) -> Result<(), BadValue> {
    if s.is_empty() {
        return Err(BadValue::Empty { what });
    }
    if s.len() > MAX_IDENT {
        return Err(BadValue::TooLong {
            what,
            max: MAX_IDENT,
        });
    }
    if let Some(ch) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/')))
    {
        return Err(BadValue::BadChar { what, ch });
    }
    Ok(())
}

fn check_text(what: &'static str, s: &str, max: usize, multiline: bool) -> Result<(), BadValue> {
    if s.is_empty() {
        return Err(BadValue::Empty { what });
    }
    if s.len() > max {
        return Err(BadValue::TooLong { what, max });
    }
    if let Some(ch) = s
        .chars()
        .find(|&c| c.is_control() && !(multiline && c == '\n'))
    {
        return Err(BadValue::BadChar { what, ch });
    }
    Ok(())
}

macro_rules! string_type {
    ($(#[$m:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        // Serialized as its string, exactly as `String` serializes (the
        // same bytes in every format), without the copy `into = "String"`
        // made on every encoding (and the strict decoder encodes each
        // value it decodes again).
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl $name {
            /// Checks `s` and wraps it.
            pub fn new(s: impl Into<String>) -> Result<Self, BadValue> {
                let s = s.into();
                let check: fn(&str) -> Result<(), BadValue> = $check;
                check(&s)?;
                Ok(Self(s))
            }

            /// The string itself.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = BadValue;
            fn try_from(s: String) -> Result<Self, BadValue> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl FromStr for $name {
            type Err = BadValue;
            fn from_str(s: &str) -> Result<Self, BadValue> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
    };
}

string_type!(
    /// A company (licensee) identifier, e.g. `acme-security`.
    CompanyId, "company id", |s| check_ident("company id", s)
);
string_type!(
    /// A site (armoury) identifier, e.g. `acme-north`.
    SiteId, "site id", |s| check_ident("site id", s)
);
string_type!(
    /// A person identifier. Names and national ids never enter the ledger:
    /// only this id and a salted hash of the identifying data.
    PersonId, "person id", |s| check_ident("person id", s)
);
string_type!(
    /// A storage location inside a site: a rack, safe, locker or compartment.
    LocationId, "location id", |s| check_ident("location id", s)
);
string_type!(
    /// A signing device's serial, assigned at manufacture.
    DeviceId, "device id", |s| check_ident("device id", s)
);
string_type!(
    /// A short identifier chosen by people: a count session, a category, a
    /// training provider, a rule.
    Ident, "identifier", |s| check_ident("identifier", s)
);
string_type!(
    /// A short single-line name: a manufacturer, a model, a serial exactly as
    /// marked, a document number, a calibre.
    Name, "name", |s| check_text("name", s, MAX_NAME, false)
);
string_type!(
    /// Free text: a reason, a purpose, a note. Newlines allowed, other
    /// control characters not.
    Text, "text", |s| check_text("text", s, MAX_TEXT, true)
);

/// An ISO 3166-1 alpha-2 country code in upper case, e.g. `ZA`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country([u8; 2]);

impl Country {
    /// Checks and wraps a two-letter upper-case code.
    pub fn new(s: &str) -> Result<Self, BadValue> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Country([*a, *b])),
            [] => Err(BadValue::Empty { what: "country" }),
            b if b.len() > 2 => Err(BadValue::TooLong {
                what: "country",
                max: 2,
            }),
            _ => Err(BadValue::BadChar {
                what: "country",
                ch: s.chars().find(|c| !c.is_ascii_uppercase()).unwrap_or('?'),
            }),
        }
    }
}

impl TryFrom<String> for Country {
    type Error = BadValue;
    fn try_from(s: String) -> Result<Self, BadValue> {
        Country::new(&s)
    }
}

impl From<Country> for String {
    fn from(c: Country) -> String {
        c.to_string()
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(core::str::from_utf8(&self.0).unwrap_or("??"))
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// A point in time: milliseconds since the Unix epoch, UTC. Every clock is
/// passed in by the caller; nothing in this crate reads the system time.
///
/// Postcard (every signed and stored structure) encodes it as a varint of
/// the milliseconds; human-readable formats (JSON: the API, every `--json`
/// output) as an RFC 3339 UTC string, `2026-11-28T09:00:00Z`, with
/// milliseconds only when they are not zero. JSON input also takes the
/// milliseconds as a number (files written before that convention).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// One second.
    pub const SECOND: u64 = 1000;
    /// One hour.
    pub const HOUR: u64 = 3_600_000;
    /// One day.
    pub const DAY: u64 = 86_400_000;

    /// Milliseconds since the epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// This time plus `ms` milliseconds, saturating.
    pub fn plus(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// This time minus `ms` milliseconds, saturating at the epoch.
    pub fn minus(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_sub(ms))
    }

    /// Parses RFC 3339 (`2026-11-28T09:00:00Z`, any offset) or a plain date
    /// (`2026-11-28`, midnight UTC). Times before the epoch are refused.
    pub fn parse(s: &str) -> Option<Timestamp> {
        use time::format_description::well_known::Rfc3339;
        let t = match time::OffsetDateTime::parse(s, &Rfc3339) {
            Ok(t) => t,
            Err(_) => {
                let fmt = time::macros::format_description!("[year]-[month]-[day]");
                time::Date::parse(s, &fmt).ok()?.midnight().assume_utc()
            }
        };
        let ms = t.unix_timestamp_nanos() / 1_000_000;
        u64::try_from(ms).ok().map(Timestamp)
    }
}

impl Timestamp {
    /// RFC 3339 in UTC, with milliseconds when they are not zero: the JSON form.
    pub fn rfc3339(self) -> String {
        match self.0 % 1000 {
            0 => self.to_string(),
            ms => {
                let s = self.to_string();
                match s.strip_suffix('Z') {
                    Some(head) => format!("{head}.{ms:03}Z"),
                    None => s,
                }
            }
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.rfc3339())
        } else {
            s.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time or milliseconds since the epoch")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v)
                    .ok_or_else(|| E::custom(format!("{v:?} is not an RFC 3339 time")))
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(Visit)
        } else {
            u64::deserialize(d).map(Timestamp)
        }
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, to the second.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fmt =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        let secs = i64::try_from(self.0 / 1000).unwrap_or(i64::MAX);
        match time::OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .and_then(|t| t.format(&fmt).ok())
        {
            Some(s) => f.write_str(&s),
            None => write!(f, "@{}ms", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ident_rules() {
        assert!(SiteId::new("acme-north.01").is_ok());
        assert_eq!(SiteId::new(""), Err(BadValue::Empty { what: "site id" }));
        assert!(matches!(
            PersonId::new("a b"),
            Err(BadValue::BadChar { ch: ' ', .. })
        ));
        assert!(matches!(
            Ident::new("x".repeat(65)),
            Err(BadValue::TooLong { .. })
        ));
        assert!(Name::new("Glock 17 Gen5").is_ok());
        assert!(Name::new("a\nb").is_err());
        assert!(Text::new("line one\nline two").is_ok());
        assert!(Text::new("bell\u{7}").is_err());
    }

    #[test]
    fn string_types_encode_exactly_as_their_strings() {
        let long = "x".repeat(64);
        for text in ["north", "a", long.as_str()] {
            let site = SiteId::new(text).unwrap();
            let as_string = postcard::to_allocvec(text).unwrap();
            assert_eq!(postcard::to_allocvec(&site).unwrap(), as_string);
            assert_eq!(
                serde_json::to_string(&site).unwrap(),
                serde_json::to_string(text).unwrap()
            );
            assert_eq!(postcard::from_bytes::<SiteId>(&as_string).unwrap(), site);
        }
        // A length over 127 takes a two-byte varint.
        let text = format!("two\nlines {}", "y".repeat(200));
        assert_eq!(
            postcard::to_allocvec(&Text::new(text.clone()).unwrap()).unwrap(),
            postcard::to_allocvec(&text).unwrap()
        );
    }

    #[test]
    fn decoding_goes_through_the_constructor() {
        let bad = postcard::to_allocvec("has space").unwrap();
        assert!(postcard::from_bytes::<SiteId>(&bad).is_err());
        let good = postcard::to_allocvec("site-1").unwrap();
        assert_eq!(
            postcard::from_bytes::<SiteId>(&good).unwrap().as_str(),
            "site-1"
        );
        assert!(Country::new("za").is_err());
        assert!(Country::new("ZAF").is_err());
        assert_eq!(Country::new("ZA").unwrap().to_string(), "ZA");
    }

    #[test]
    fn time_round_trips() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:34:56Z",
            "2026-11-28T23:59:59Z",
            "2100-03-01T00:00:00Z",
        ] {
            let t = Timestamp::parse(s).unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert_eq!(
            Timestamp::parse("2026-01-02").unwrap().to_string(),
            "2026-01-02T00:00:00Z"
        );
        assert_eq!(Timestamp::parse("2026-13-01"), None);
        assert_eq!(Timestamp::parse("2026-01-01T25:00:00Z"), None);
        assert_eq!(Timestamp::parse("junk"), None);
    }

    #[test]
    fn time_is_rfc3339_in_json_and_millis_in_postcard() {
        let t = Timestamp::parse("2026-11-28T09:00:00Z").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-28T09:00:00Z\""
        );
        let ms = t.plus(7);
        assert_eq!(
            serde_json::to_string(&ms).unwrap(),
            "\"2026-11-28T09:00:00.007Z\""
        );
        for json in ["\"2026-11-28T09:00:00.007Z\"".to_string(), ms.0.to_string()] {
            assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ms);
        }
        assert!(serde_json::from_str::<Timestamp>("\"junk\"").is_err());
        // The signed and stored form is unchanged: a varint of the milliseconds.
        assert_eq!(
            postcard::to_allocvec(&ms).unwrap(),
            postcard::to_allocvec(&ms.0).unwrap()
        );
        let back: Timestamp = postcard::from_bytes(&postcard::to_allocvec(&ms).unwrap()).unwrap();
        assert_eq!(back, ms);
    }
}
