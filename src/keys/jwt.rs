//! JWTs for the other Vonage APIs: RS256 over the claims the API documents.
//!
//! Pure: the caller passes the time and the token id, so the same inputs give the same token.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use super::{KeyError, PrivateKeyPem};

/// Vonage accepts tokens that live at most a day.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token may live at most 24h, not {0}")]
    TooLong(String),
    #[error("a token must live at least a second")]
    TooShort,
    #[error("--acl must be a JSON object such as {{\"paths\": {{\"/*/users/**\": {{}}}}}}")]
    BadAcl,
    #[error("cannot sign with this key")]
    Key(#[from] KeyError),
    #[error("cannot sign the token")]
    Sign(#[source] crate::BoxError),
}

#[derive(Debug, Serialize)]
pub struct Claims {
    pub application_id: String,
    pub iat: u64,
    pub jti: String,
    pub exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acl: Option<Value>,
}

/// What a token says, besides the application and the time.
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub ttl: Option<Duration>,
    pub sub: Option<String>,
    pub acl: Option<Value>,
    /// Not valid before this Unix time.
    pub nbf: Option<u64>,
}

/// The claims of a token issued at `now` (Unix seconds) with id `jti`.
pub fn claims(application_id: &str, request: &TokenRequest, now: u64, jti: String) -> Result<Claims, TokenError> {
    let ttl = request.ttl.unwrap_or(DEFAULT_TTL);
    if ttl > MAX_TTL {
        return Err(TokenError::TooLong(humantime::format_duration(ttl).to_string()));
    }
    if ttl.as_secs() == 0 {
        return Err(TokenError::TooShort);
    }
    if request.acl.as_ref().is_some_and(|acl| !acl.is_object()) {
        return Err(TokenError::BadAcl);
    }
    Ok(Claims {
        application_id: application_id.to_string(),
        iat: now,
        jti,
        exp: now + ttl.as_secs(),
        nbf: request.nbf,
        sub: request.sub.clone(),
        acl: request.acl.clone(),
    })
}

/// The JOSE header of every token: RS256.
const HEADER: &str = r#"{"alg":"RS256","typ":"JWT"}"#;

/// Signs `claims` with RS256 (RSASSA-PKCS1-v1_5 with SHA-256) under the header `{"alg":"RS256","typ":"JWT"}`.
pub fn sign(claims: &Claims, key: &PrivateKeyPem) -> Result<String, TokenError> {
    let claims = serde_json::to_vec(claims).map_err(|e| TokenError::Sign(Box::new(e)))?;
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(claims));
    let pair = key.parse()?;
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut signature)
        .map_err(|e| TokenError::Sign(Box::new(e)))?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    #[test]
    fn tokens_verify_with_the_public_key_and_carry_the_claims() {
        let pair = crate::keys::tests::shared_pair();
        let request = TokenRequest {
            sub: Some("alice".into()),
            acl: Some(serde_json::json!({"paths": {"/*/users/**": {}}})),
            ..Default::default()
        };
        let claims = claims("app-1", &request, 1_700_000_000, "4f1e7a5e-8d6c-4b7a-9d0e-1f2a3b4c5d6e".into()).unwrap();
        let token = sign(&claims, &pair.private_key).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let decode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap();
        let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "RS256", "typ": "JWT"}));
        let body: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
        assert_eq!(body["application_id"], "app-1");
        assert_eq!(body["exp"], 1_700_000_000u64 + 900);
        assert_eq!(body["sub"], "alice");
        // Verified with the rsa crate, independently of the signer.
        let public = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_pem(&pair.public_key).unwrap();
        let verifier = VerifyingKey::<sha2::Sha256>::new(public);
        let signature = Signature::try_from(decode(parts[2]).as_slice()).unwrap();
        verifier.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).unwrap();
    }

    #[test]
    fn lifetimes_are_bounded() {
        let long = TokenRequest { ttl: Some(Duration::from_secs(24 * 3600 + 1)), ..Default::default() };
        assert!(matches!(claims("a", &long, 0, "j".into()), Err(TokenError::TooLong(_))));
        let day = TokenRequest { ttl: Some(MAX_TTL), ..Default::default() };
        assert!(claims("a", &day, 0, "j".into()).is_ok());
        let acl = TokenRequest { acl: Some(serde_json::json!([1])), ..Default::default() };
        assert!(matches!(claims("a", &acl, 0, "j".into()), Err(TokenError::BadAcl)));
    }
}
