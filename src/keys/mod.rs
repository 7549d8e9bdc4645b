//! RSA key custody: generating key pairs, fingerprints, and a private-key type that never prints itself.
//!
//! Invariants: a [`PrivateKeyPem`] shows `<redacted>` in `Debug` and `Display`, so no log line, error or
//! panic message can carry key material; the PEM text is reachable only through [`PrivateKeyPem::expose`],
//! and the memory holding it is wiped on drop. Fingerprints are SHA-256 over the DER public key, so two
//! PEM spellings of the same key (line endings, wrapping) have one fingerprint.

pub mod jwt;

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKey};
use aws_lc_rs::signature::KeyPair as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use crate::model::Fingerprint;

/// Bits of every key vapp makes.
pub const KEY_BITS: usize = 2048;

use crate::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM public key (expected `-----BEGIN PUBLIC KEY-----`, RSA)")]
    BadPublicKey(#[source] BoxError),
    #[error("not a PKCS#8 PEM private key (expected `-----BEGIN PRIVATE KEY-----`, RSA)")]
    BadPrivateKey(#[source] BoxError),
    #[error("could not make an RSA key pair")]
    Generate(#[source] BoxError),
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
        let pair = self.parse()?;
        let spki = pair.public_key().as_der().map_err(|e| KeyError::BadPrivateKey(Box::new(e)))?;
        pem(PUBLIC_LABEL, spki.as_ref()).map_err(KeyError::BadPrivateKey)
    }

    /// The key, ready to sign with.
    pub(crate) fn parse(&self) -> Result<RsaKeyPair, KeyError> {
        let der = decode_pem(self.expose(), PRIVATE_LABEL).map_err(KeyError::BadPrivateKey)?;
        RsaKeyPair::from_pkcs8(&der).map_err(|e| KeyError::BadPrivateKey(Box::new(e)))
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
    pub fingerprint: Fingerprint,
}

const PRIVATE_LABEL: &str = "PRIVATE KEY";
const PUBLIC_LABEL: &str = "PUBLIC KEY";

/// Makes an RSA-2048 key pair with AWS-LC. CPU-bound (about 0.1 s): call it off the async threads.
pub fn generate() -> Result<KeyPair, KeyError> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| KeyError::Generate(Box::new(e)))?;
    let pkcs8 = pair.as_der().map_err(|e| KeyError::Generate(Box::new(e)))?;
    let private_pem = pem(PRIVATE_LABEL, pkcs8.as_ref()).map_err(KeyError::Generate)?;
    let spki = pair.public_key().as_der().map_err(|e| KeyError::Generate(Box::new(e)))?;
    let public_key = pem(PUBLIC_LABEL, spki.as_ref()).map_err(KeyError::Generate)?;
    Ok(KeyPair { private_key: PrivateKeyPem::new(private_pem), public_key, fingerprint: fingerprint_of(spki.as_ref()) })
}

/// The fingerprint of a PEM public key: `sha256:` and the hex SHA-256 of its canonical DER form, so two
/// spellings of one key (line endings, wrapping) have one fingerprint.
pub fn fingerprint(public_key_pem: &str) -> Result<Fingerprint, KeyError> {
    Ok(fingerprint_of(&canonical_public_key(public_key_pem)?))
}

/// Checks that `public_key_pem` holds an RSA public key, as the API does for `keys.public_key`.
pub fn parse_public_key(public_key_pem: &str) -> Result<(), KeyError> {
    canonical_public_key(public_key_pem).map(drop)
}

/// The SubjectPublicKeyInfo DER of an RSA public key PEM, as AWS-LC writes it.
fn canonical_public_key(public_key_pem: &str) -> Result<Vec<u8>, KeyError> {
    let der = decode_pem(public_key_pem, PUBLIC_LABEL).map_err(KeyError::BadPublicKey)?;
    let key = PublicKey::from_der(&der).map_err(|e| KeyError::BadPublicKey(Box::new(e)))?;
    let canonical = key.as_der().map_err(|e| KeyError::BadPublicKey(Box::new(e)))?;
    Ok(canonical.as_ref().to_vec())
}

fn fingerprint_of(spki_der: &[u8]) -> Fingerprint {
    let hex: String = Sha256::digest(spki_der).iter().map(|b| format!("{b:02x}")).collect();
    Fingerprint::new(format!("sha256:{hex}"))
}

/// PEM armour with LF line endings, as vapp has always written keys.
fn pem(label: &str, der: &[u8]) -> Result<String, BoxError> {
    Ok(pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)?)
}

/// The DER inside a PEM with `label`; CRLF line endings and surrounding blank space are accepted.
fn decode_pem(text: &str, label: &str) -> Result<Zeroizing<Vec<u8>>, BoxError> {
    let text = text.trim().replace("\r\n", "\n");
    let (found, der) = pem_rfc7468::decode_vec(text.as_bytes())?;
    if found != label {
        return Err(format!("a PEM `{found}`, not `{label}`").into());
    }
    Ok(Zeroizing::new(der))
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
        assert_eq!(fingerprint(&format!("\n  {}\n", pair.public_key)).unwrap(), pair.fingerprint);
        assert!(fingerprint("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
        assert!(fingerprint(pair.private_key.expose()).is_err(), "a private key is not a public key");
    }

    #[test]
    fn keys_are_what_other_rsa_implementations_read() {
        use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
        let pair = shared_pair();
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(pair.private_key.expose()).unwrap();
        let public = rsa::RsaPublicKey::from_public_key_pem(&pair.public_key).unwrap();
        assert_eq!(rsa::RsaPublicKey::from(&private), public);
        let der = public.to_public_key_der().unwrap();
        assert_eq!(fingerprint_of(der.as_bytes()), pair.fingerprint, "the fingerprint is over the standard SPKI");
    }

    #[test]
    fn private_keys_never_print() {
        let pair = shared_pair();
        let shown = format!("{:?} {} {:?}", pair.private_key, pair.private_key, pair);
        assert!(!shown.contains("PRIVATE KEY-----"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
