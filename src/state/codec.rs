//! The state document's bytes: checksum, format version, and the sealing of private keys. Pure, and
//! the same for every place a state is kept.
//!
//! Reading never puts a value from the document into an error: a state holds private keys, and a
//! hand-edited one may hold them anywhere. Errors name the path of what is wrong and what it should be.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::crypto::{CryptoError, Sealer};
use super::{HeldKey, HeldSecret, KeyRecord, State, FORMAT, FORMAT_VERSION};
use crate::humanise::{self, Dialect, ProblemKind};
use crate::keys::PrivateKeyPem;
use crate::model::webhook_url;

/// The largest state vapp reads: ten thousand applications with their keys take about 40 MB.
pub const MAX_STATE_BYTES: u64 = 256 * 1024 * 1024;

/// Why a state document cannot be trusted. Never holds a value from it: a state holds private keys.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    #[error("it is not JSON ({problem} at line {line}, column {column})")]
    NotJson { problem: &'static str, line: usize, column: usize },
    #[error("it is not a vapp state file (format `{format}`)")]
    Foreign { format: String },
    #[error("it has no checksum: vapp did not write it, or it was edited by hand")]
    NoChecksum,
    #[error("its checksum does not match its content (it was changed or damaged)")]
    Checksum,
    #[error("its encryption settings are damaged")]
    Encryption,
    /// An encrypted state that holds a private key in plain text (edited by hand, or damaged): vapp
    /// would otherwise keep that key in the clear under an "encrypted" label.
    #[error("it is encrypted but holds a private key in plain text")]
    PlainKeyInEncrypted,
    #[error("an encrypted key is damaged")]
    SealedKey,
    #[error("an encrypted digest of a webhook password is damaged")]
    SealedDigest,
    /// A field of the wrong shape: where, and what it should be (never the value found).
    #[error("`{path}` {problem}")]
    Shape { path: String, problem: String },
}

/// Why a state could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("the state is encrypted but no passphrase opened it")]
    NoSealer,
}

/// Why a state document cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    Corrupt(Corruption),
    /// A format version above the one this vapp reads.
    Newer {
        version: u64,
    },
    WrongPassphrase,
}

impl From<Corruption> for DecodeError {
    fn from(c: Corruption) -> Self {
        DecodeError::Corrupt(c)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a state document. With `passphrase`, sealed private keys are opened; without, an encrypted
/// state's keys stay sealed (enough for every command that signs nothing and makes no key).
pub fn decode(bytes: &[u8], passphrase: Option<&str>) -> Result<State, DecodeError> {
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| Corruption::NotJson {
        problem: match e.classify() {
            serde_json::error::Category::Eof => "it ends too early",
            serde_json::error::Category::Syntax => "a syntax error",
            _ => "it cannot be read",
        },
        line: e.line(),
        column: e.column(),
    })?;
    let format = value.get("format").and_then(Value::as_str).unwrap_or_default();
    if format != FORMAT {
        // Only a short, plain name is repeated back; anything else may be a secret.
        let shown = if format.len() <= 40 && format.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            format.to_string()
        } else {
            "?".to_string()
        };
        return Err(Corruption::Foreign { format: shown }.into());
    }
    match value.get("version").and_then(Value::as_u64) {
        Some(version) if version == u64::from(FORMAT_VERSION) => {}
        Some(version) if version > u64::from(FORMAT_VERSION) => return Err(DecodeError::Newer { version }),
        _ => {
            let problem = format!("must be {FORMAT_VERSION}");
            return Err(Corruption::Shape { path: "version".into(), problem }.into());
        }
    }
    let Some(sum) = value.as_object_mut().and_then(|o| o.remove("checksum")) else {
        return Err(Corruption::NoChecksum.into());
    };
    let compact = serde_json::to_vec(&value).map_err(|_| Corruption::Checksum)?;
    if sum.as_str() != Some(sha256_hex(&compact).as_str()) {
        return Err(Corruption::Checksum.into());
    }
    let mut state: State = serde_path_to_error::deserialize(value).map_err(|e| {
        let problem = humanise::humanise(&e);
        let path = problem.path.join(".");
        let problem = match problem.kind {
            ProblemKind::Missing { field } => format!("lacks `{field}`"),
            ProblemKind::Unknown { key, .. } => format!("has an unknown field `{key}`"),
            // What was found may be a private key: say only what was expected.
            ProblemKind::Wrong { expected, .. } => format!("must be {}", expected.words(Dialect::Json)),
            ProblemKind::Other(_) => "has the wrong shape".to_string(),
        };
        Corruption::Shape { path, problem }
    })?;
    let open_secret = state.held_secrets().any(|s| matches!(s, HeldSecret::Open { .. }));
    let sealed_secret = state.held_secrets().any(|s| matches!(s, HeldSecret::Sealed { .. }));
    if state.encryption.is_some() && open_secret {
        return Err(Corruption::PlainKeyInEncrypted.into());
    }
    if state.encryption.is_none() && sealed_secret {
        return Err(Corruption::Encryption.into());
    }
    if state.encryption.is_some() && state.held_keys().any(|k| matches!(k, HeldKey::Open { .. })) {
        return Err(Corruption::PlainKeyInEncrypted.into());
    }
    match (&state.encryption, passphrase) {
        (None, _) => {
            if state.held_keys().any(|k| matches!(k, HeldKey::Sealed { .. })) {
                return Err(Corruption::Encryption.into());
            }
        }
        (Some(_), None) => {}
        (Some(settings), Some(passphrase)) => {
            let sealer = Sealer::open(passphrase, settings).map_err(|e| match e {
                CryptoError::WrongPassphrase => DecodeError::WrongPassphrase,
                _ => Corruption::Encryption.into(),
            })?;
            for held in state.held_keys_mut() {
                if let HeldKey::Sealed { private_key_encrypted } = held {
                    let plain = sealer.unseal(private_key_encrypted).map_err(|_| Corruption::SealedKey)?;
                    let pem = String::from_utf8(plain.to_vec()).map_err(|_| Corruption::SealedKey)?;
                    *held = HeldKey::Open { private_key: PrivateKeyPem::new(pem) };
                }
            }
            for held in state.held_secrets_mut() {
                if let HeldSecret::Sealed { secret_encrypted } = held {
                    let plain = sealer.unseal(secret_encrypted).map_err(|_| Corruption::SealedKey)?;
                    let text = String::from_utf8(plain.to_vec()).map_err(|_| Corruption::SealedKey)?;
                    *held = HeldSecret::Open { secret: crate::secret::Secret::new(text) };
                }
            }
            for applied in state.applications.values_mut().filter_map(|e| e.applied.as_mut()) {
                webhook_url::each_string(applied, &mut Vec::new(), &mut |_, text| unseal_digest(text, &sealer))?;
            }
            state.sealer = Some(sealer);
        }
    }
    Ok(state)
}

/// Writes a state document: private keys sealed when the state is encrypted, a checksum over the rest.
pub fn encode(state: &State) -> Result<Vec<u8>, EncodeError> {
    let mut stored = state.clone();
    if stored.encryption.is_some() {
        for held in stored.held_keys_mut() {
            if let HeldKey::Open { private_key } = held {
                let sealer = state.sealer.as_ref().ok_or(EncodeError::NoSealer)?;
                let private_key_encrypted = sealer.seal(private_key.expose().as_bytes())?;
                *held = HeldKey::Sealed { private_key_encrypted };
            }
        }
        for held in stored.held_secrets_mut() {
            if let HeldSecret::Open { secret } = held {
                let sealer = state.sealer.as_ref().ok_or(EncodeError::NoSealer)?;
                let secret_encrypted = sealer.seal(secret.expose().as_bytes())?;
                *held = HeldSecret::Sealed { secret_encrypted };
            }
        }
        // Webhook passwords' digests too. A state read without its passphrase holds none in the open
        // (they stay sealed as they were read); only one written by an earlier vapp may, and those are
        // sealed at the next write that has the passphrase.
        if let Some(sealer) = state.sealer.as_ref() {
            for applied in stored.applications.values_mut().filter_map(|e| e.applied.as_mut()) {
                webhook_url::each_string(applied, &mut Vec::new(), &mut |_, text| seal_digest(text, sealer))?;
            }
        }
    }
    stored.checksum = None;
    let mut value = serde_json::to_value(&stored)?;
    let checksum = sha256_hex(&serde_json::to_vec(&value)?);
    if let Some(object) = value.as_object_mut() {
        object.insert("checksum".into(), Value::String(checksum));
    }
    let mut bytes = serde_json::to_vec_pretty(&value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A URL's password digest (`sha256-…`) sealed (`sealed-…`).
fn seal_digest(text: &mut String, sealer: &Sealer) -> Result<(), CryptoError> {
    let sealed = webhook_url::map_secret(text, |secret| match webhook_url::is_digest(secret) {
        true => sealer.seal_url_safe(secret.as_bytes()).map(|s| Some(format!("{}{s}", webhook_url::SEALED_PREFIX))),
        false => Ok(None),
    })?;
    if let Some(sealed) = sealed {
        *text = sealed;
    }
    Ok(())
}

/// A sealed digest (`sealed-…`) opened to the digest it holds.
fn unseal_digest(text: &mut String, sealer: &Sealer) -> Result<(), Corruption> {
    let opened = webhook_url::map_secret(text, |secret| match secret.strip_prefix(webhook_url::SEALED_PREFIX) {
        Some(sealed) => {
            let plain = sealer.unseal_url_safe(sealed).map_err(|_| Corruption::SealedDigest)?;
            let digest = String::from_utf8(plain.to_vec()).map_err(|_| Corruption::SealedDigest)?;
            match webhook_url::is_digest(&digest) {
                true => Ok(Some(digest)),
                false => Err(Corruption::SealedDigest),
            }
        }
        None => Ok(None),
    })?;
    if let Some(opened) = opened {
        *text = opened;
    }
    Ok(())
}

impl State {
    /// Every subaccount secret the state holds.
    fn held_secrets(&self) -> impl Iterator<Item = &HeldSecret> {
        self.accounts.values().filter_map(|a| a.subaccount.as_ref()).map(|s| &s.secret)
    }

    fn held_secrets_mut(&mut self) -> impl Iterator<Item = &mut HeldSecret> {
        self.accounts.values_mut().filter_map(|a| a.subaccount.as_mut()).map(|s| &mut s.secret)
    }

    /// Every private key the state holds: each address's key and pending key.
    fn held_keys(&self) -> impl Iterator<Item = &HeldKey> {
        self.applications.values().flat_map(|e| [Some(&e.key), e.pending_key.as_ref()]).flatten().filter_map(|record| {
            match record {
                KeyRecord::Managed { private_key, .. } => Some(private_key),
                _ => None,
            }
        })
    }

    fn held_keys_mut(&mut self) -> impl Iterator<Item = &mut HeldKey> {
        self.applications.values_mut().flat_map(|e| [Some(&mut e.key), e.pending_key.as_mut()]).flatten().filter_map(
            |record| match record {
                KeyRecord::Managed { private_key, .. } => Some(private_key),
                _ => None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, AppId, Fingerprint};
    use crate::state::StateEntry;

    fn state_with_key() -> State {
        let mut state = State::new("lin".into());
        state.applications.insert(
            Address::new("a"),
            StateEntry {
                id: Some(AppId::new("id-a")),
                key: KeyRecord::managed(
                    Fingerprint::new("sha256:00"),
                    PrivateKeyPem::new("-----BEGIN PRIVATE KEY-----\n".into()),
                ),
                ..Default::default()
            },
        );
        state
    }

    #[test]
    fn round_trips_with_a_checksum() {
        let state = state_with_key();
        let bytes = encode(&state).unwrap();
        let back = decode(&bytes, None).unwrap();
        assert_eq!(back.applications, state.applications);
        let mut damaged = String::from_utf8(bytes).unwrap();
        damaged = damaged.replace("id-a", "id-b");
        assert_eq!(decode(damaged.as_bytes(), None), Err(DecodeError::Corrupt(Corruption::Checksum)));
    }

    #[test]
    fn encrypted_keys_stay_sealed_without_the_passphrase() {
        let mut state = state_with_key();
        let (settings, sealer) = Sealer::create("pass").unwrap();
        state.encryption = Some(settings);
        state.sealer = Some(sealer);
        let bytes = encode(&state).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("BEGIN PRIVATE KEY"));
        let sealed = decode(&bytes, None).unwrap();
        assert!(sealed.applications["a"].key.is_managed());
        assert!(sealed.applications["a"].key.private_key().is_none());
        // Written again without the passphrase, the sealed key is kept as it was.
        let again = decode(&encode(&sealed).unwrap(), Some("pass")).unwrap();
        assert_eq!(
            again.applications["a"].key.private_key().map(|k| k.expose()),
            Some("-----BEGIN PRIVATE KEY-----\n")
        );
        assert_eq!(decode(&bytes, Some("wrong")).unwrap_err(), DecodeError::WrongPassphrase);
    }

    /// A webhook password's digest is sealed in an encrypted state, opened with the passphrase, and
    /// kept sealed (as it was) when the state is written again without it.
    #[test]
    fn webhook_password_digests_are_sealed_with_the_passphrase() {
        let mut state = state_with_key();
        let url = crate::model::WebhookUrl::new("https://bot:hunter2@a.example/answer").comparable();
        let digest = url.split(['@', ':']).nth(2).unwrap().to_string();
        assert!(digest.starts_with("sha256-"), "{url}");
        let applied = serde_json::json!({"capabilities": {"voice": {"webhooks": {"answer_url": {"address": url}}}}});
        state.applications.get_mut("a").unwrap().applied = Some(applied.clone());
        // Plain state: the digest as it is.
        let plain = String::from_utf8(encode(&state).unwrap()).unwrap();
        assert!(plain.contains(&digest));
        let (settings, sealer) = Sealer::create("pass").unwrap();
        state.encryption = Some(settings);
        state.sealer = Some(sealer);
        let bytes = encode(&state).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&digest[7..]) && text.contains("https://bot:sealed-"), "{text}");
        let opened = decode(&bytes, Some("pass")).unwrap();
        assert_eq!(opened.applications["a"].applied, Some(applied.clone()));
        let sealed = decode(&bytes, None).unwrap();
        let shown = sealed.applications["a"].applied.as_ref().unwrap().to_string();
        assert!(shown.contains("https://bot:sealed-") && !shown.contains(&digest), "{shown}");
        let again = decode(&encode(&sealed).unwrap(), Some("pass")).unwrap();
        assert_eq!(again.applications["a"].applied, Some(applied));
        // A damaged seal is a damaged state.
        let damaged = String::from_utf8(encode(&sealed).unwrap()).unwrap().replace("bot:sealed-", "bot:sealed-AAAA");
        let damaged = {
            let mut value: Value = serde_json::from_str(&damaged).unwrap();
            value.as_object_mut().unwrap().remove("checksum");
            let sum = sha256_hex(&serde_json::to_vec(&value).unwrap());
            value.as_object_mut().unwrap().insert("checksum".into(), Value::String(sum));
            serde_json::to_vec(&value).unwrap()
        };
        assert_eq!(decode(&damaged, Some("pass")).unwrap_err(), DecodeError::Corrupt(Corruption::SealedDigest));
    }

    #[test]
    fn errors_never_echo_values_from_the_state() {
        let secret = "-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----\\n";
        let body = format!(
            r#"{{"format":"vapp-state","version":1,"lineage":"l","serial":1,"applications":{{"a":{{"key":{{"custody":"managed","fingerprint":"f","private_key":"k"}},"protect":"{secret}"}}}}}}"#
        );
        let mut value: Value = serde_json::from_str(&body).unwrap();
        let sum = sha256_hex(&serde_json::to_vec(&value).unwrap());
        value["checksum"] = Value::String(sum);
        let error = decode(&serde_json::to_vec(&value).unwrap(), None).unwrap_err();
        let DecodeError::Corrupt(corruption) = error else { panic!("corrupt") };
        let text = corruption.to_string();
        assert_eq!(text, "`applications.a.protect` must be true or false");
        let newer = serde_json::json!({"format": "vapp-state", "version": 9});
        assert_eq!(decode(&serde_json::to_vec(&newer).unwrap(), None), Err(DecodeError::Newer { version: 9 }));
    }

    /// Found by fuzzing: a number serde_json did not read back as written made vapp refuse its own
    /// state (the checksum is over the document as read).
    #[test]
    fn a_state_with_any_number_reads_back_as_written() {
        let bytes = include_bytes!("../../fuzz/regressions/state/float-roundtrip.json");
        let state = decode(bytes, None).unwrap();
        let again = decode(&encode(&state).unwrap(), None).unwrap();
        assert_eq!(again.applications, state.applications);
    }

    /// Found by reading `decode` for fuzzing: an encrypted state holding a plain key was accepted,
    /// then could not be written back; it is refused as damaged.
    #[test]
    fn an_encrypted_state_with_a_plain_key_is_refused() {
        let bytes = include_bytes!("../../fuzz/regressions/state/encrypted-with-an-open-key.json");
        let error = decode(bytes, None).unwrap_err();
        assert!(matches!(error, DecodeError::Corrupt(Corruption::PlainKeyInEncrypted)), "{error:?}");
        assert!(!format!("{error:?}").contains("PRIVATE KEY"));
    }
}
