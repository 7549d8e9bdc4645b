//! RSA key custody: generating key pairs, fingerprints, and a private-key type that never prints itself.
//!
//! Invariants: a [`PrivateKeyPem`] shows `<redacted>` in `Debug` and `Display`, so no log line, error or
//! panic message can carry key material; the PEM text is reachable only through [`PrivateKeyPem::expose`],
//! and the memory holding it is wiped on drop. Fingerprints are SHA-256 over the DER public key, so two
//! PEM spellings of the same key (line endings, wrapping) have one fingerprint.

pub mod jwt;

use std::fmt;

use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Bits of every key vapp makes.
pub const KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM public key (expected `-----BEGIN PUBLIC KEY-----`, RSA): {0}")]
    BadPublicKey(String),
    #[error("not a PKCS#8 PEM private key (expected `-----BEGIN PRIVATE KEY-----`, RSA)")]
    BadPrivateKey,
    #[error("could not make an RSA key pair: {0}")]
    Generate(String),
}

/// A PKCS#8 PEM private key. Redacted in `Debug` and `Display`; zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(Zeroizing<String>);

impl PrivateKeyPem {
    pub fn new(pem: String) -> Self {
        PrivateKeyPem(Zeroizing::new(pem))
    }

    /// The PEM text. Call only where the key must leave vapp: the state file, `key show`, signing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The public half, as a PEM `PUBLIC KEY`.
    pub fn public_key_pem(&self) -> Result<String, KeyError> {
        let private = RsaPrivateKey::from_pkcs8_pem(self.expose()).map_err(|_| KeyError::BadPrivateKey)?;
        RsaPublicKey::from(&private)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::BadPublicKey(e.to_string()))
    }

    pub fn parse(&self) -> Result<RsaPrivateKey, KeyError> {
        RsaPrivateKey::from_pkcs8_pem(self.expose()).map_err(|_| KeyError::BadPrivateKey)
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem(<redacted>)")
    }
}

impl fmt::Display for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted private key>")
    }
}

impl Serialize for PrivateKeyPem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for PrivateKeyPem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(PrivateKeyPem::new)
    }
}

/// A key pair made by vapp, with the fingerprint of its public half.
#[derive(Clone, Debug)]
pub struct KeyPair {
    pub private_key: PrivateKeyPem,
    pub public_key: String,
    pub fingerprint: String,
}

/// Makes an RSA-2048 key pair. CPU-bound (about 0.1–1 s): call it off the async threads.
pub fn generate() -> Result<KeyPair, KeyError> {
    let mut rng = rand::rngs::OsRng;
    let private = RsaPrivateKey::new(&mut rng, KEY_BITS).map_err(|e| KeyError::Generate(e.to_string()))?;
    key_pair_of(&private)
}

fn key_pair_of(private: &RsaPrivateKey) -> Result<KeyPair, KeyError> {
    let private_pem = private.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?;
    let public = RsaPublicKey::from(private);
    let public_key = public.to_public_key_pem(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?;
    let fingerprint = fingerprint_of(&public)?;
    Ok(KeyPair { private_key: PrivateKeyPem::new(private_pem.to_string()), public_key, fingerprint })
}

/// The fingerprint of a PEM public key: `sha256:` and the hex SHA-256 of its DER form.
pub fn fingerprint(public_key_pem: &str) -> Result<String, KeyError> {
    let public = parse_public_key(public_key_pem)?;
    fingerprint_of(&public)
}

pub fn parse_public_key(public_key_pem: &str) -> Result<RsaPublicKey, KeyError> {
    RsaPublicKey::from_public_key_pem(public_key_pem.trim()).map_err(|e| KeyError::BadPublicKey(e.to_string()))
}

fn fingerprint_of(public: &RsaPublicKey) -> Result<String, KeyError> {
    let der = public.to_public_key_der().map_err(|e| KeyError::BadPublicKey(e.to_string()))?;
    let digest = Sha256::digest(der.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One key pair for every unit test of this crate: making keys is slow.
    pub(crate) fn shared_pair() -> &'static KeyPair {
        static PAIR: OnceLock<KeyPair> = OnceLock::new();
        PAIR.get_or_init(|| generate().unwrap())
    }

    #[test]
    fn generated_pairs_belong_together() {
        let pair = shared_pair();
        assert!(pair.private_key.expose().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(pair.public_key.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(pair.private_key.public_key_pem().unwrap(), pair.public_key);
        assert_eq!(fingerprint(&pair.public_key).unwrap(), pair.fingerprint);
    }

    #[test]
    fn fingerprints_ignore_pem_spelling() {
        let pair = shared_pair();
        let crlf = pair.public_key.replace('\n', "\r\n");
        assert_eq!(fingerprint(&crlf).unwrap(), pair.fingerprint);
        assert!(fingerprint("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
    }

    #[test]
    fn private_keys_never_print() {
        let pair = shared_pair();
        let shown = format!("{:?} {} {:?}", pair.private_key, pair.private_key, pair);
        assert!(!shown.contains("PRIVATE KEY-----"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
