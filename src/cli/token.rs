//! `vapp token ADDR`: a JWT signed with the application's private key, for the other Vonage APIs.

use super::definitions::TokenArgs;
use std::time::{SystemTime, UNIX_EPOCH};

use super::failure::{bail, Context as _, Result};

use super::{Context, Exit};
use crate::keys::jwt::{self, TokenRequest};

fn parse_time(text: &str) -> Result<u64> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let time = humantime::parse_rfc3339_weak(text)
        .with_context(|| format!("--nbf {text:?} is not RFC 3339 or Unix seconds"))?;
    Ok(time.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
}

pub async fn run(context: &Context, args: TokenArgs) -> Result<Exit> {
    let state = context.require_state_with_keys().await?.state;
    let Some(entry) = state.applications.get(&args.address) else { bail!("{} is not in the state", args.address) };
    let Some(id) = entry.id.as_ref().map(|id| id.as_str()) else {
        bail!("{} has not been created yet: run `vapp apply`", args.address)
    };
    let Some(key) = entry.key.private_key() else {
        bail!("vapp does not hold the private key of {}, so it cannot sign for it", args.address);
    };
    let acl = match &args.acl {
        Some(text) => Some(serde_json::from_str(text).context("--acl is not JSON")?),
        None => None,
    };
    let nbf = args.nbf.as_deref().map(parse_time).transpose()?;
    let request = TokenRequest { ttl: Some(args.ttl), sub: args.sub, acl, nbf };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let claims = jwt::claims(id, &request, now, uuid::Uuid::new_v4().to_string())?;
    let token = jwt::sign(&claims, key)?;
    context.printer.data(&format!("{token}\n"));
    Ok(Exit::Success)
}
