//! The Subaccounts API as the emulator serves it: list, create, get and modify a primary's
//! subaccounts, and transfer numbers between the primary and a subaccount.
//!
//! Only the primary's own credentials may call it, for its own key: a subaccount's credentials get
//! 403 (`#unprovisioned`), as an account not provisioned for the API does. Errors are the problem+json
//! answers of `spec/subaccounts.yml`: 401, 403, 404, 409, 422.

// A refusal here is the answer itself, made once per request: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};

use super::problems::{problem, respond};
use super::routes::{is_json, json_response};
use super::store::{Store, Subaccount, TransferRefusal};
use crate::api::Problem;
use crate::model::rules::InvalidParameter;
use crate::model::Msisdn;
use crate::secret::Secret;

const ERRORS: &str = "https://developer.nexmo.com/api-errors";
const SUBACCOUNT_ERRORS: &str = "https://developer.nexmo.com/api-errors/subaccounts";
/// The longest subaccount name.
pub const MAX_NAME_CHARS: usize = 80;
/// The largest body any Subaccounts call reads.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Whether `secret` follows Vonage's rules: 8–25 characters with a lower-case letter, an upper-case
/// letter and a digit.
pub fn is_valid_secret(secret: &str) -> bool {
    let count = secret.chars().count();
    (8..=25).contains(&count)
        && secret.chars().any(|c| c.is_ascii_lowercase())
        && secret.chars().any(|c| c.is_ascii_uppercase())
        && secret.chars().any(|c| c.is_ascii_digit())
}

/// An existing subaccount as `vapp emulator --account` names it.
#[derive(Clone, Debug)]
pub struct AccountArg {
    pub api_key: String,
    pub secret: Secret,
    /// The secret that signs its simulated traffic.
    pub signature_secret: Option<Secret>,
}

/// `KEY:SECRET[:SIGNATURE_SECRET]`, as `vapp emulator --account` takes it.
pub fn parse_account_arg(text: &str) -> Result<AccountArg, String> {
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(key), Some(secret), signature) if !key.is_empty() && !secret.is_empty() => Ok(AccountArg {
            api_key: key.to_string(),
            secret: Secret::new(secret),
            signature_secret: signature.filter(|s| !s.is_empty()).map(Secret::new),
        }),
        _ => Err("expected KEY:SECRET[:SIGNATURE_SECRET] (an existing subaccount's API key and secret, and the secret that signs its webhooks)".into()),
    }
}

/// A subaccount that existed before the emulator started (`--account`).
pub fn existing(api_key: &str, primary: &str) -> Subaccount {
    Subaccount {
        api_key: api_key.to_string(),
        name: api_key.to_string(),
        primary_account_api_key: primary.to_string(),
        use_primary_account_balance: true,
        created_at: now(),
        suspended: false,
        balance: None,
        credit_limit: None,
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn refuse(status: StatusCode, kind: &str, title: &str, detail: String) -> Response {
    respond(status, problem(kind.to_string(), title, detail))
}

/// 401 as the Subaccounts API words it (its errors live at developer.nexmo.com).
pub fn unauthorized() -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        &format!("{ERRORS}#unauthorized"),
        "Invalid credentials supplied",
        "You did not provide correct credentials".into(),
    )
}

fn unprovisioned(key: &str) -> Response {
    refuse(
        StatusCode::FORBIDDEN,
        &format!("{ERRORS}#unprovisioned"),
        "Authorisation error",
        format!("Account {key} is not provisioned to access Subaccount Provisioning API"),
    )
}

fn invalid_api_key(key: &str) -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        &format!("{ERRORS}#invalid-api-key"),
        "Invalid API Key",
        format!("API key '{key}' does not exist, or you do not have access"),
    )
}

fn validation(invalid_parameters: Vec<InvalidParameter>) -> Response {
    let mut answer: Problem = problem(
        format!("{SUBACCOUNT_ERRORS}#validation"),
        "Bad Request",
        "The request failed due to validation errors",
    );
    answer.invalid_parameters = invalid_parameters;
    respond(StatusCode::UNPROCESSABLE_ENTITY, answer)
}

fn invalid(name: &str, reason: &str) -> Response {
    validation(vec![InvalidParameter { name: name.to_string(), reason: reason.to_string() }])
}

/// The primary account behind `path_key`, when the caller signed in as it; else the refusal.
fn primary_only(account: &Store, path_key: &str) -> Result<(), Response> {
    if !account.is_primary() {
        return Err(unprovisioned(account.api_key()));
    }
    if path_key != account.api_key() {
        return Err(invalid_api_key(path_key));
    }
    Ok(())
}

/// A JSON object body, or the 422 that says why not.
fn object_body(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Map<String, Value>, Response> {
    if body.len() > MAX_BODY_BYTES {
        return Err(invalid("body", &format!("must be at most {MAX_BODY_BYTES} bytes")));
    }
    if !is_json(headers) {
        return Err(super::problems::bad_content_type());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid("body", "must be a JSON object")),
    }
}

fn boolean(map: &serde_json::Map<String, Value>, name: &str) -> Result<Option<bool>, Response> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(name, "Should be either 'true' or 'false'")),
    }
}

fn name(map: &serde_json::Map<String, Value>) -> Result<Option<String>, Response> {
    match map.get("name") {
        None => Ok(None),
        Some(Value::String(name)) if !name.trim().is_empty() && name.chars().count() <= MAX_NAME_CHARS => {
            Ok(Some(name.clone()))
        }
        Some(_) => Err(invalid("name", &format!("must be a string of 1 to {MAX_NAME_CHARS} characters"))),
    }
}

pub async fn list(Extension(account): Extension<Store>, Path(api_key): Path<String>) -> Response {
    if let Err(refusal) = primary_only(&account, &api_key) {
        return refusal;
    }
    let primary = json!({
        "api_key": account.api_key(),
        "name": "Primary account",
        "balance": 100.0,
        "credit_limit": 0.0,
        "suspended": false,
        "created_at": "2020-01-01T00:00:00.000Z",
    });
    let body = json!({"_embedded": {"primary_account": primary, "subaccounts": account.subaccounts()}});
    json_response(StatusCode::OK, &body)
}

pub async fn create(
    Extension(account): Extension<Store>,
    Path(api_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let map = match primary_only(&account, &api_key).and_then(|()| object_body(&headers, &body)) {
        Ok(map) => map,
        Err(refusal) => return refusal,
    };
    let name = match name(&map) {
        Ok(Some(name)) => name,
        Ok(None) => return invalid("name", "is required"),
        Err(refusal) => return refusal,
    };
    let shared_balance = match boolean(&map, "use_primary_account_balance") {
        Ok(shared) => shared.unwrap_or(true),
        Err(refusal) => return refusal,
    };
    let secret =
        match map.get("secret") {
            None => generated_secret(),
            Some(Value::String(secret)) if is_valid_secret(secret) => secret.clone(),
            Some(_) => return invalid(
                "secret",
                "must be 8 to 25 characters with at least one lower-case letter, one upper-case letter and one digit",
            ),
        };
    let api_key = loop {
        let key = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        if account.account(&key).is_none() {
            break key;
        }
    };
    let info = Subaccount {
        api_key: api_key.clone(),
        name,
        primary_account_api_key: account.api_key().to_string(),
        use_primary_account_balance: shared_balance,
        created_at: now(),
        suspended: false,
        balance: (!shared_balance).then_some(0.0),
        credit_limit: (!shared_balance).then_some(0.0),
    };
    if account.add_subaccount(info.clone(), Secret::new(secret.clone())).await.is_err() {
        return super::problems::server_error(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let mut shown = serde_json::to_value(&info).unwrap_or_default();
    if let Value::Object(map) = &mut shown {
        map.insert("secret".into(), Value::String(secret));
    }
    json_response(StatusCode::OK, &shown)
}

/// A secret for a create that sends none, as Vonage makes one.
fn generated_secret() -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    format!("Aa1{}", &raw[..13])
}

pub async fn get_one(
    Extension(account): Extension<Store>,
    Path((api_key, subaccount_key)): Path<(String, String)>,
) -> Response {
    if let Err(refusal) = primary_only(&account, &api_key) {
        return refusal;
    }
    match account.subaccount(&subaccount_key) {
        Some(sub) => json_response(StatusCode::OK, &sub),
        None => invalid_api_key(&subaccount_key),
    }
}

pub async fn modify(
    Extension(account): Extension<Store>,
    Path((api_key, subaccount_key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let map = match primary_only(&account, &api_key).and_then(|()| object_body(&headers, &body)) {
        Ok(map) => map,
        Err(refusal) => return refusal,
    };
    let changes = (|| {
        Ok::<_, Response>((name(&map)?, boolean(&map, "use_primary_account_balance")?, boolean(&map, "suspended")?))
    })();
    let (name, shared_balance, suspended) = match changes {
        Ok(changes) => changes,
        Err(refusal) => return refusal,
    };
    if account.subaccount(&subaccount_key).is_none() {
        return invalid_api_key(&subaccount_key);
    }
    let changed = account
        .modify_subaccount(&subaccount_key, |sub| {
            if let Some(name) = name {
                sub.name = name;
            }
            if let Some(shared) = shared_balance {
                sub.use_primary_account_balance = shared;
                (sub.balance, sub.credit_limit) = if shared { (None, None) } else { (Some(0.0), Some(0.0)) };
            }
            if let Some(suspended) = suspended {
                sub.suspended = suspended;
            }
        })
        .await;
    match changed {
        Ok(Some(sub)) => json_response(StatusCode::OK, &sub),
        Ok(None) => invalid_api_key(&subaccount_key),
        Err(_) => super::problems::server_error(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[derive(Deserialize)]
struct Transfer {
    from: String,
    to: String,
    number: String,
    country: String,
}

pub async fn transfer_number(
    Extension(account): Extension<Store>,
    Path(api_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let map = match primary_only(&account, &api_key).and_then(|()| object_body(&headers, &body)) {
        Ok(map) => map,
        Err(refusal) => return refusal,
    };
    let transfer: Transfer = match serde_json::from_value(Value::Object(map)) {
        Ok(transfer) => transfer,
        Err(e) => return invalid("body", &format!("{e}: `from`, `to`, `number` and `country` are required strings")),
    };
    let Some(msisdn) = Msisdn::parse(&transfer.number) else {
        return invalid("number", "must be a phone number in E.164 form");
    };
    let country_matches = account
        .account(&transfer.from)
        .and_then(|from| from.number(&msisdn))
        .is_none_or(|n| n.shown.country.eq_ignore_ascii_case(&transfer.country));
    if !country_matches {
        return invalid("country", "does not match the number's country");
    }
    let (number, from, to) = (&transfer.number, &transfer.from, &transfer.to);
    match account.transfer_number(from, to, &msisdn).await {
        Ok(Ok(())) => json_response(
            StatusCode::OK,
            &json!({"number": number, "country": transfer.country, "from": from, "to": to}),
        ),
        Ok(Err(TransferRefusal::NoSuchAccount(key))) => invalid_api_key(&key),
        Ok(Err(TransferRefusal::OutsideFamily)) => refuse(
            StatusCode::FORBIDDEN,
            &format!("{SUBACCOUNT_ERRORS}#invalid-number-transfer"),
            "Invalid Number Transfer",
            format!("Failed to perform transfer number {number} from account {from} to {to} - The relationship between these two accounts does not allow for number transfer"),
        ),
        Ok(Err(TransferRefusal::NotOwned)) => refuse(
            StatusCode::NOT_FOUND,
            &format!("{SUBACCOUNT_ERRORS}#missing-number-transfer"),
            "Invalid Number Transfer",
            format!("Could not transfer number {number} from account {from} to {to} - ShortCode not found"),
        ),
        Ok(Err(TransferRefusal::AlreadyOwned)) => refuse(
            StatusCode::CONFLICT,
            &format!("{SUBACCOUNT_ERRORS}#transfer-conflict"),
            "Transfer Conflict",
            format!("Could not transfer number {number} from account {from} to {to} - ShortCode is already owned by requesting account"),
        ),
        Err(_) => super::problems::server_error(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_follow_vonages_rules() {
        assert!(is_valid_secret("Abcdefg1"));
        assert!(!is_valid_secret("abcdefg1"));
        assert!(!is_valid_secret("ABCDEFG1"));
        assert!(!is_valid_secret("Abcdefgh"));
        assert!(!is_valid_secret("Ab1"));
        assert!(!is_valid_secret(&format!("Ab1{}", "x".repeat(23))));
        assert!(is_valid_secret(&generated_secret()));
    }

    #[test]
    fn account_arguments_need_a_key_and_a_secret() {
        let arg = parse_account_arg("sub1:Secret123").unwrap();
        assert_eq!((arg.api_key.as_str(), arg.secret.expose()), ("sub1", "Secret123"));
        assert!(arg.signature_secret.is_none());
        let signed = parse_account_arg("sub1:Secret123:sig:with:colons").unwrap();
        assert_eq!(signed.signature_secret.map(|s| s.expose().to_string()).as_deref(), Some("sig:with:colons"));
        assert!(parse_account_arg("sub1").is_err());
        assert!(parse_account_arg(":x").is_err());
    }
}
