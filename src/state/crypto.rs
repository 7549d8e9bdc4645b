//! Encryption of the private keys in the state, with a passphrase.
//!
//! Argon2id turns the passphrase and a random salt into a 256-bit key; each private key is sealed with
//! AES-256-GCM under its own random nonce. Only the private keys are encrypted: ids, fingerprints and
//! what was applied stay readable, so the state can still be reviewed. A sealed check value tells a
//! wrong passphrase from a damaged file before anything is decrypted or written.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as URL_SAFE};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const CHECK: &[u8] = b"vapp-state-passphrase-check";

/// How the state's keys are encrypted; stored in the state, holds no secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    pub kdf: String,
    pub salt: String,
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    pub cipher: String,
    /// A known value sealed with the key: opening it proves the passphrase.
    pub check: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the passphrase is wrong")]
    WrongPassphrase,
    #[error("the encryption settings are not supported: {0}")]
    Unsupported(String),
    #[error("the key derivation settings are not usable")]
    Derivation(#[source] argon2::Error),
    #[error("an encrypted key is damaged")]
    Damaged,
}

/// The key derived from a passphrase. Never printed.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

fn derive(passphrase: &str, salt: &[u8], m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Sealer, CryptoError> {
    let params = Params::new(m_cost, t_cost, p_cost, Some(32)).map_err(CryptoError::Derivation)?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(CryptoError::Derivation)?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| CryptoError::Damaged)?;
    Ok(Sealer { cipher })
}

impl Sealer {
    /// New settings (random salt; OWASP's Argon2id parameters) and their key.
    pub fn create(passphrase: &str) -> Result<(Encryption, Sealer), CryptoError> {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let (m_cost, t_cost, p_cost) = (19 * 1024, 2, 1);
        let sealer = derive(passphrase, &salt, m_cost, t_cost, p_cost)?;
        let check = sealer.seal(CHECK)?;
        let encryption = Encryption {
            kdf: "argon2id".into(),
            salt: B64.encode(salt),
            m_cost,
            t_cost,
            p_cost,
            cipher: "aes-256-gcm".into(),
            check,
        };
        Ok((encryption, sealer))
    }

    /// The key of existing settings; a wrong passphrase is found here.
    pub fn open(passphrase: &str, encryption: &Encryption) -> Result<Sealer, CryptoError> {
        if encryption.kdf != "argon2id" || encryption.cipher != "aes-256-gcm" {
            return Err(CryptoError::Unsupported(format!("{} with {}", encryption.kdf, encryption.cipher)));
        }
        let salt = B64.decode(&encryption.salt).map_err(|_| CryptoError::Damaged)?;
        let sealer = derive(passphrase, &salt, encryption.m_cost, encryption.t_cost, encryption.p_cost)?;
        match sealer.unseal(&encryption.check) {
            Ok(check) if check.as_slice() == CHECK => Ok(sealer),
            _ => Err(CryptoError::WrongPassphrase),
        }
    }

    /// `nonce || ciphertext`, base64.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, CryptoError> {
        Ok(B64.encode(self.seal_bytes(plaintext)?))
    }

    /// [`seal`](Self::seal), written in URL-safe base64 without padding: for text that must stay a
    /// valid part of a URL (a webhook password's digest in its user info).
    pub fn seal_url_safe(&self, plaintext: &[u8]) -> Result<String, CryptoError> {
        Ok(URL_SAFE.encode(self.seal_bytes(plaintext)?))
    }

    pub fn unseal(&self, sealed: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.unseal_bytes(&B64.decode(sealed).map_err(|_| CryptoError::Damaged)?)
    }

    /// Opens what [`seal_url_safe`](Self::seal_url_safe) wrote.
    pub fn unseal_url_safe(&self, sealed: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.unseal_bytes(&URL_SAFE.decode(sealed).map_err(|_| CryptoError::Damaged)?)
    }

    fn seal_bytes(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self.cipher.encrypt(&nonce, plaintext).map_err(|_| CryptoError::Damaged)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn unseal_bytes(&self, bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if bytes.len() < 12 {
            return Err(CryptoError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        self.cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map(Zeroizing::new).map_err(|_| CryptoError::Damaged)
    }
}

impl PartialEq for Sealer {
    /// Sealers do not take part in comparing states.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_with_the_right_passphrase_only() {
        let (settings, sealer) = Sealer::create("correct horse").unwrap();
        let sealed = sealer.seal(b"-----BEGIN PRIVATE KEY-----").unwrap();
        assert!(!sealed.contains("PRIVATE"));
        let again = Sealer::open("correct horse", &settings).unwrap();
        assert_eq!(again.unseal(&sealed).unwrap().as_slice(), b"-----BEGIN PRIVATE KEY-----");
        assert_eq!(Sealer::open("wrong", &settings).unwrap_err(), CryptoError::WrongPassphrase);
        assert_ne!(sealer.seal(b"x").unwrap(), sealer.seal(b"x").unwrap(), "a fresh nonce every time");
        assert!(format!("{sealer:?}").contains("redacted"));
    }
}
