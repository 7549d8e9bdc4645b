//! Parsers for the command line's values, each with the range it documents: a value outside it is a
//! usage error naming the range, never an overflow or an allocation that cannot be met.

use std::time::Duration;

// The types the definitions (`definitions.rs`) name, through this module only: the build script gives
// them stand-ins of its own.
pub use crate::api::{BaseUrl, DEFAULT_API_URL};
pub use crate::emulator::{parse_account_arg, AccountArg, DEFAULT_API_KEY, DEFAULT_API_SECRET};
pub use crate::model::{Address, AppId};
pub use crate::secret::Secret;
pub use crate::state::StateLocation;
pub use crate::webhooks::simulate::Act;

/// `vapp --version`: the version, and the commit it was built from (set by `build.rs`).
pub const VERSION: &str = env!("VAPP_VERSION");

/// The longest wait any option accepts: a day.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest pause between two number updates `--numbers-pace` takes.
pub const MAX_NUMBERS_PACE: Duration = Duration::from_secs(60);

/// The longest `vapp check --timeout` (Vonage's own longest, an event's socket timeout, is 10 s).
pub const MAX_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// A duration such as `30s`, `5m` or `1h`, at most `max`.
pub fn duration_at_most(max: Duration) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        let duration = humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 30s, 5m or 1h)"))?;
        if duration > max {
            return Err(format!("at most {} is allowed", show(max)));
        }
        Ok(duration)
    }
}

fn show(duration: Duration) -> String {
    match duration.as_secs() {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// An address as the manifests write it.
pub fn address(text: &str) -> Result<Address, String> {
    Address::parse(text).map_err(|e| e.to_string())
}

/// An application id, as the API gives it.
pub fn app_id(text: &str) -> Result<AppId, String> {
    match text.trim() {
        "" => Err("an application id is not empty".into()),
        id => Ok(AppId::new(id)),
    }
}

/// A value parsed by `parse`, whose errors never repeat what was given: clap's own parsers print
/// the value back (`invalid value 'postgres://u:PASSWORD@…'`), and these values may carry secrets.
#[derive(Clone)]
pub struct Quiet<T>(pub fn(&str) -> Result<T, String>);

impl<T: Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Quiet<T> {
    type Value = T;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let name = arg.map(|a| a.to_string()).unwrap_or_else(|| "a value".into());
        let refuse = |why: String| {
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("invalid value for {name}: {why}\n"))
                .with_cmd(command)
        };
        let text = value.to_str().ok_or_else(|| refuse("it is not UTF-8 text".into()))?;
        (self.0)(text).map_err(refuse)
    }
}

/// Where the state lives (`--state`, `--to`, `--to-state`).
pub fn state_location(text: &str) -> Result<StateLocation, String> {
    StateLocation::parse(text).map_err(|e| match e.help() {
        Some(help) => format!("{e}\n  = help: {help}"),
        None => e.to_string(),
    })
}

/// An API's base URL (`--api-url`, `--numbers-url`).
pub fn base_url(text: &str) -> Result<BaseUrl, String> {
    BaseUrl::parse(text).map_err(|e| format!("{e}\n  = help: {}", e.help()))
}

/// A share between 0 and 1, such as `0.15`.
pub fn probability(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number between 0 and 1"))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("{value} is not between 0 and 1"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_refused_with_the_range() {
        let lock = duration_at_most(MAX_WAIT);
        assert_eq!(lock("30s"), Ok(Duration::from_secs(30)));
        assert!(lock("18446744073709551615s").unwrap_err().contains("at most 24h"));
        assert!(lock("soon").is_err());
        assert_eq!(probability("0.5"), Ok(0.5));
        assert!(probability("1.5").is_err() && probability("NaN").is_err() && probability("x").is_err());
    }
}
