//! The identifiers that cross modules, each a type of its own, so that the compiler (not a reviewer)
//! stops a number being passed where an application id is meant, or an address where a fingerprint is.
//!
//! Each is a string on the wire and in the state (`#[serde(transparent)]`), so no file format changes.
//! `new` takes a value as some trusted source spells it (the API, the state); the user's spellings go
//! through the checking constructors ([`Address::parse`], [`Msisdn::parse`]).

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The value as a trusted source (the API, the state, vapp itself) spells it.
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // As the plain string: the type is in the code that prints it.
                fmt::Debug::fmt(&self.0, f)
            }
        }

        /// Lets maps keyed by the type be looked up by a plain `&str` (a user's argument, a test's literal).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

string_id!(
    /// An application's id, as the Application API gives it.
    AppId
);

string_id!(
    /// The name a manifest gives an application (`[a-z0-9][a-z0-9_-]*`), unique across all files; the
    /// state is keyed by it.
    Address
);

string_id!(
    /// The name a manifest gives a Vonage account (`default`, or one declared under `accounts:`),
    /// spelt as an address is.
    AccountName
);

string_id!(
    /// A phone number in E.164 digits, without `+` (`447700900001`).
    Msisdn
);

string_id!(
    /// An account's API key: it names the account (Basic auth's user name, a JWT's `api_key` claim).
    /// Not a secret; its secret travels beside it as a [`crate::secret::Secret`].
    ApiKey
);

string_id!(
    /// A public key's fingerprint: `sha256:` and the hex of SHA-256 over its DER form.
    Fingerprint
);

impl Address {
    /// `text` as an address, if it is one.
    pub fn parse(text: &str) -> Result<Address, InvalidAddress> {
        match valid_address(text) {
            true => Ok(Address(text.to_string())),
            false => Err(InvalidAddress),
        }
    }
}

/// Why a text is not an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an address is lower-case letters, digits, `_` and `-`, starting with a letter or digit")]
pub struct InvalidAddress;

/// Whether `address` matches `[a-z0-9][a-z0-9_-]*`.
pub fn valid_address(address: &str) -> bool {
    let mut chars = address.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl AccountName {
    /// The account of `VONAGE_API_KEY`, which always exists.
    pub const DEFAULT: &'static str = "default";

    pub fn default_account() -> AccountName {
        AccountName(Self::DEFAULT.to_string())
    }

    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }

    /// `text` as an account name, if it is one (the same spelling as an address).
    pub fn parse(text: &str) -> Result<AccountName, InvalidAddress> {
        Address::parse(text).map(|a| AccountName(a.into_string()))
    }
}

impl Msisdn {
    /// The E.164 digits of a number as a person writes it, if it is one: spaces, dashes and a leading
    /// `+` dropped, then 7 to 15 digits, not starting with 0.
    pub fn parse(written: &str) -> Option<Msisdn> {
        let trimmed = written.trim();
        let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let digits: String = body.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let valid =
            (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
        valid.then_some(Msisdn(digits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_people_write_them() {
        assert_eq!(Msisdn::parse("+44 7700-900001"), Some(Msisdn::new("447700900001")));
        assert_eq!(Msisdn::parse("0447700900001"), None);
        assert_eq!(Msisdn::parse("12345"), None);
        assert_eq!(Msisdn::parse("44770090000a"), None);
    }

    #[test]
    fn addresses_are_checked_and_ids_are_strings_on_the_wire() {
        assert!(Address::parse("call-forwarding_2").is_ok());
        assert_eq!(Address::parse("Call"), Err(InvalidAddress));
        assert_eq!(Address::parse(""), Err(InvalidAddress));
        assert_eq!(serde_json::to_string(&AppId::new("x")).unwrap(), "\"x\"");
        assert_eq!(serde_json::from_str::<Fingerprint>("\"sha256:00\"").unwrap(), Fingerprint::new("sha256:00"));
        assert_eq!(format!("{:?}", Msisdn::new("1")), "\"1\"");
    }
}
