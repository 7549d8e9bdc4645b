//! `accounts:` and `account:`: the Vonage accounts one manifest set spans.
//!
//! `default` always exists (`VONAGE_API_KEY`, `VONAGE_API_SECRET`); other accounts are declared once,
//! in any file, either as an existing account (`api_key` and the name of the variable holding its
//! secret) or as a subaccount vapp makes (`subaccount_of`, `name`). A secret never appears in a
//! manifest: a field that would hold one is an error, and its value is read into nothing, so no
//! message can echo it. Whether a secret variable is set is the commands' concern, not the loader's:
//! only a command that talks to the account needs it.

use std::collections::HashMap;

use indexmap::IndexMap;
use schemars::JsonSchema;

use crate::model::ApiKey;
use serde::{Deserialize, Deserializer};

use super::{did_you_mean, Diagnostic, Location};
use crate::model::AccountName;

/// The most accounts a manifest set declares.
pub const MAX_ACCOUNTS: usize = 1000;
/// The longest subaccount name Vonage takes.
pub const MAX_SUBACCOUNT_NAME_CHARS: usize = 80;

/// An account as a manifest declares it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// An existing account's API key (not a secret).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub api_key: Option<ApiKey>,
    /// The environment variable that holds that account's API secret.
    #[serde(default)]
    pub api_secret_env: Option<String>,
    /// Make this account: a subaccount of the named account (`default` or another declared one).
    #[serde(default)]
    pub subaccount_of: Option<String>,
    /// The subaccount's name at Vonage (1..80 characters).
    #[serde(default)]
    pub name: Option<String>,
    /// Whether the subaccount spends the primary's balance (default true).
    #[serde(default)]
    pub use_primary_account_balance: Option<bool>,
    /// The environment variable that holds the account's signature secret (signed webhooks).
    #[serde(default)]
    pub signature_secret_env: Option<String>,
    /// Never allowed: read into nothing so that no message repeats it.
    #[serde(default)]
    #[schemars(skip)]
    pub api_secret: Option<Withheld>,
    /// Never allowed, as `api_secret`.
    #[serde(default)]
    #[schemars(skip)]
    pub secret: Option<Withheld>,
    /// Never allowed, as `api_secret`.
    #[serde(default)]
    #[schemars(skip)]
    pub signature_secret: Option<Withheld>,
}

/// A value that was written where a secret would go, read and dropped unseen.
#[derive(Debug)]
pub struct Withheld;

impl<'de> Deserialize<'de> for Withheld {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Withheld)
    }
}

/// What an account is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// An account that exists: its key, and the variable holding its secret.
    Existing { api_key: ApiKey, api_secret_env: String },
    /// A subaccount vapp makes under `parent`, named `name` at Vonage.
    Subaccount { parent: AccountName, name: String, use_primary_account_balance: bool },
}

/// An account the manifests declare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredAccount {
    pub name: AccountName,
    pub kind: AccountKind,
    pub signature_secret_env: Option<String>,
    pub location: Location,
}

/// Whether `name` is a usable environment variable name.
fn valid_variable(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variable a person would name for `account`'s secret, for hints.
pub fn suggested_variable(account: &str) -> String {
    format!("VONAGE_{}_API_SECRET", account.to_ascii_uppercase().replace('-', "_"))
}

/// A problem found in one declaration: where (a field, or the entry) and what.
pub struct Problem {
    pub field: Option<&'static str>,
    pub message: String,
    pub help: Option<String>,
    /// The field's line holds a secret: a message quotes the line without its value.
    pub secret: bool,
}

fn problem(field: Option<&'static str>, message: String, help: Option<String>) -> Problem {
    Problem { field, message, help, secret: false }
}

/// Checks one declaration on its own; `Err` holds every problem found.
pub fn declare(name: &str, entry: AccountEntry, location: Location) -> Result<DeclaredAccount, Vec<Problem>> {
    let mut problems = Vec::new();
    let account = match AccountName::parse(name) {
        Ok(account) if account.is_default() => {
            problems.push(problem(
                None,
                "`default` cannot be declared: it is always the account of VONAGE_API_KEY and VONAGE_API_SECRET".into(),
                Some("declare the other accounts under another name, e.g. `staging`".into()),
            ));
            None
        }
        Ok(account) => Some(account),
        Err(invalid) => {
            problems.push(problem(None, format!("`{name}` is not a valid account name"), Some(invalid.to_string())));
            None
        }
    };
    for (field, written) in [
        ("api_secret", entry.api_secret.is_some()),
        ("secret", entry.secret.is_some()),
        ("signature_secret", entry.signature_secret.is_some()),
    ] {
        if written {
            let variable = if field == "signature_secret" { "signature_secret_env" } else { "api_secret_env" };
            problems.push(Problem {
                secret: true,
                ..problem(
                    Some(field),
                    format!("`{field}` would put a secret into the manifest; vapp never reads one from there"),
                    Some(format!(
                        "put it in an environment variable and name the variable instead: `{variable}: {}` (and take the secret out of the file's history)",
                        suggested_variable(name)
                    )),
                )
            });
        }
    }
    for (field, variable) in
        [("api_secret_env", &entry.api_secret_env), ("signature_secret_env", &entry.signature_secret_env)]
    {
        if let Some(variable) = variable.as_deref().filter(|v| !valid_variable(v)) {
            problems.push(problem(
                Some(field),
                format!("`{variable}` is not an environment variable name"),
                Some("a variable name is letters, digits and `_`, not starting with a digit".into()),
            ));
        }
    }
    let kind = match (&entry.api_key, &entry.subaccount_of) {
        (Some(_), Some(_)) => {
            problems.push(problem(
                Some("subaccount_of"),
                format!("account `{name}` has both `api_key` and `subaccount_of`"),
                Some("`api_key` names an account that exists; `subaccount_of` asks vapp to make one: keep one".into()),
            ));
            None
        }
        (Some(api_key), None) => {
            for field in ["name", "use_primary_account_balance"] {
                let set =
                    if field == "name" { entry.name.is_some() } else { entry.use_primary_account_balance.is_some() };
                if set {
                    problems.push(problem(
                        Some(field),
                        format!("`{field}` applies to a subaccount vapp makes (`subaccount_of`), not to an existing account"),
                        None,
                    ));
                }
            }
            if api_key.as_str().trim().is_empty() {
                problems.push(problem(Some("api_key"), "`api_key` is empty".into(), None));
            }
            match &entry.api_secret_env {
                Some(variable) => Some(AccountKind::Existing {
                    api_key: ApiKey::new(api_key.as_str().trim()),
                    api_secret_env: variable.clone(),
                }),
                None => {
                    problems.push(problem(
                        None,
                        format!("account `{name}` names no variable for its secret"),
                        Some(format!(
                            "add `api_secret_env: {}` and set that variable where vapp runs",
                            suggested_variable(name)
                        )),
                    ));
                    None
                }
            }
        }
        (None, Some(parent)) => {
            if entry.api_secret_env.is_some() {
                problems.push(problem(
                    Some("api_secret_env"),
                    "a subaccount vapp makes has its secret made by vapp and kept in the state".into(),
                    Some("remove `api_secret_env`; `vapp account show` prints the secret for your servers".into()),
                ));
            }
            let subaccount_name = match entry.name.as_deref().map(str::trim) {
                Some(n) if !n.is_empty() && n.chars().count() <= MAX_SUBACCOUNT_NAME_CHARS => Some(n.to_string()),
                Some(_) => {
                    problems.push(problem(
                        Some("name"),
                        format!("a subaccount's name is 1 to {MAX_SUBACCOUNT_NAME_CHARS} characters"),
                        None,
                    ));
                    None
                }
                None => {
                    problems.push(problem(
                        None,
                        format!("subaccount `{name}` has no `name` (its name at Vonage)"),
                        None,
                    ));
                    None
                }
            };
            match (AccountName::parse(parent), subaccount_name) {
                (Ok(parent), Some(subaccount_name)) => Some(AccountKind::Subaccount {
                    parent,
                    name: subaccount_name,
                    use_primary_account_balance: entry.use_primary_account_balance.unwrap_or(true),
                }),
                (Err(invalid), _) => {
                    problems.push(problem(
                        Some("subaccount_of"),
                        format!("`{parent}` is not a valid account name"),
                        Some(invalid.to_string()),
                    ));
                    None
                }
                _ => None,
            }
        }
        (None, None) => {
            problems.push(problem(
                None,
                format!("account `{name}` says neither `api_key` nor `subaccount_of`"),
                Some(format!(
                    "an existing account: `api_key: …` and `api_secret_env: {}`; one vapp makes: `subaccount_of: default` and `name: …`",
                    suggested_variable(name)
                )),
            ));
            None
        }
    };
    match (account, kind) {
        (Some(name), Some(kind)) if problems.is_empty() => {
            Ok(DeclaredAccount { name, kind, signature_secret_env: entry.signature_secret_env, location })
        }
        _ => Err(problems),
    }
}

/// The checks across files: each account declared once, each reference to a declared account, one
/// level of subaccounts, each API key once. `uses` are the files' `account:` entries.
pub fn check_references(
    declared: &IndexMap<AccountName, DeclaredAccount>,
    duplicates: &[(DeclaredAccount, Location)],
    uses: &[(AccountName, Location)],
    source_line: &dyn Fn(&Location) -> Option<String>,
) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let mut report = |location: &Location, message: String, help: Option<String>| {
        found.push(Diagnostic { location: location.clone(), message, help, source_line: source_line(location) });
    };
    for (again, first) in duplicates {
        report(
            &again.location,
            format!("account `{}` is declared twice", again.name),
            Some(format!("it is first declared at {first}; declare each account once, in any file")),
        );
    }
    if declared.len() > MAX_ACCOUNTS {
        if let Some(first) = declared.values().next() {
            report(
                &first.location,
                format!("the manifests declare more than {MAX_ACCOUNTS} accounts, the most vapp reads"),
                None,
            );
        }
    }
    let names: Vec<String> =
        std::iter::once(AccountName::DEFAULT.to_string()).chain(declared.keys().map(|k| k.to_string())).collect();
    let unknown = |name: &AccountName| !name.is_default() && !declared.contains_key(name);
    let hint = |name: &AccountName| {
        did_you_mean(name.as_str(), &names).or_else(|| {
            Some(format!("declare it under `accounts:` in any manifest (accounts here: {})", names.join(", ")))
        })
    };
    for (name, location) in uses {
        if unknown(name) {
            report(location, format!("account `{name}` is not declared"), hint(name));
        }
    }
    let mut keys: HashMap<&ApiKey, &AccountName> = HashMap::new();
    for account in declared.values() {
        match &account.kind {
            AccountKind::Subaccount { parent, .. } => {
                if unknown(parent) {
                    report(
                        &account.location,
                        format!("`{}` is a subaccount of `{parent}`, which is not declared", account.name),
                        hint(parent),
                    );
                } else if declared.get(parent).is_some_and(|p| matches!(p.kind, AccountKind::Subaccount { .. })) {
                    report(
                        &account.location,
                        format!("`{}` is a subaccount of `{parent}`, itself a subaccount", account.name),
                        Some("Vonage has one level of subaccounts: make it a subaccount of the primary account".into()),
                    );
                }
            }
            AccountKind::Existing { api_key, .. } => {
                if let Some(other) = keys.insert(api_key, &account.name) {
                    report(
                        &account.location,
                        format!("accounts `{other}` and `{}` have the same API key {api_key}", account.name),
                        Some("each account is declared once, under one name".into()),
                    );
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_checked() {
        assert!(valid_variable("VONAGE_STAGING_API_SECRET"));
        assert!(valid_variable("_x1"));
        assert!(!valid_variable("1X"));
        assert!(!valid_variable("A-B"));
        assert!(!valid_variable(""));
        assert_eq!(suggested_variable("acme-eu"), "VONAGE_ACME_EU_API_SECRET");
    }
}
