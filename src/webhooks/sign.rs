//! Signed webhooks, as Vonage signs them: `Authorization: Bearer <JWT>`, HS256 with the account's
//! signature secret, claims `iat`, `jti`, `iss: "Vonage"`, `api_key`, `application_id` and
//! `payload_hash` (see [`super::rules::payload_hash`]).
//!
//! Pure: the caller passes the time and the token id, so the same inputs give the same token.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use crate::secret::Secret;

/// The claims of one signed request.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Claims {
    pub iat: u64,
    pub jti: String,
    pub iss: &'static str,
    pub api_key: String,
    pub application_id: String,
    pub payload_hash: String,
}

/// Who signs: the account's API key and its signature secret.
#[derive(Clone, Debug)]
pub struct Signer {
    pub api_key: crate::model::ApiKey,
    pub secret: Secret,
}

impl Signer {
    /// The token of a request to `application_id`'s webhook whose payload hashes to `payload_hash`,
    /// at `now` (Unix seconds).
    pub fn token(&self, application_id: &str, payload_hash: String, now: u64, jti: String) -> String {
        let claims = Claims {
            iat: now,
            jti,
            iss: "Vonage",
            api_key: self.api_key.to_string(),
            application_id: application_id.to_string(),
            payload_hash,
        };
        sign(&claims, &self.secret)
    }

    /// The same signer with a secret that is not the account's: what a forger would send.
    pub fn forger(&self) -> Signer {
        // Any other secret will do; one derived from the real one would only tempt a reader to think
        // it matters.
        Signer { api_key: self.api_key.clone(), secret: Secret::new("not-the-signature-secret-of-this-account") }
    }
}

fn sign(claims: &Claims, secret: &Secret) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    // Claims of strings and numbers always serialise.
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    let tag = hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_hs256_over_the_documented_claims() {
        let signer = Signer { api_key: crate::model::ApiKey::new("abc123"), secret: Secret::new("s3cret") };
        let hash = crate::webhooks::rules::payload_hash(crate::webhooks::hooks::Method::Post, &[], b"{}");
        let token = signer.token("app-1", hash.clone(), 1_700_000_000, "jti-1".into());
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({"iat": 1_700_000_000u64, "jti": "jti-1", "iss": "Vonage", "api_key": "abc123",
                "application_id": "app-1",
                "payload_hash": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"})
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"s3cret");
        let tag = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert!(hmac::verify(&key, format!("{}.{}", parts[0], parts[1]).as_bytes(), &tag).is_ok());
        let forged = signer.forger().token("app-1", hash, 1_700_000_000, "jti-1".into());
        assert_ne!(forged.split('.').nth(2), Some(parts[2]));
    }
}
