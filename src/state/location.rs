//! Where a state lives, parsed once from `--state` (or `VAPP_STATE`): a file, a PostgreSQL database, an
//! S3 object, or memory (tests). Every message shows a location through its `Display`, which never
//! holds a password; the raw PostgreSQL URL is reachable only through [`PostgresUrl::expose`], for
//! the one place that connects with it. Nothing else looks at the text again.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StateLocation {
    File(PathBuf),
    Postgres(PostgresUrl),
    S3(S3Object),
    /// In this process only (tests).
    Memory,
}

/// A `postgres://` or `postgresql://` URL. Shown with its password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

/// An `s3://BUCKET/KEY` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
}

/// Why a `--state` value names no place vapp can keep a state. Never holds the value itself: it may
/// carry a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("the state location is empty")]
    Empty,
    #[error("`{scheme}://` is not a state backend vapp knows (a path, postgres://, postgresql:// or s3://)")]
    UnknownScheme { scheme: String },
    #[error("the postgres:// URL does not parse ({reason})")]
    BadPostgresUrl { reason: String },
    #[error("the s3:// URL names no object: write s3://BUCKET/KEY")]
    BadS3Url,
    /// libpq's `host=… dbname=… password=…` form: it would otherwise be taken for a file name and
    /// printed back, password and all.
    #[error("the state location looks like a PostgreSQL keyword string ({keywords}); vapp takes a postgres:// URL")]
    PostgresKeywords { keywords: String },
}

impl LocationError {
    /// What to do about it, for the command edge to print as `= help:`.
    pub fn help(&self) -> Option<String> {
        match self {
            LocationError::PostgresKeywords { .. } | LocationError::BadPostgresUrl { .. } => Some(
                "write postgres://USER@HOST:PORT/DB?workspace=NAME (the password in PGPASSWORD, not in the URL)".into(),
            ),
            LocationError::UnknownScheme { .. } => Some("name a file, postgres://… or s3://BUCKET/KEY".into()),
            _ => None,
        }
    }
}

/// libpq's connection keywords (those a keyword string would start with).
const LIBPQ_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "connect_timeout",
    "options",
    "service",
    "target_session_attrs",
];

impl StateLocation {
    /// Reads a `--state` value.
    pub fn parse(text: &str) -> Result<StateLocation, LocationError> {
        if text.trim().is_empty() {
            return Err(LocationError::Empty);
        }
        if let Some((scheme, rest)) = split_scheme(text) {
            return match scheme {
                "postgres" | "postgresql" => {
                    // libpq's forms, as the driver reads them: an empty host with `host=/socket/dir`
                    // in the query, a percent-encoded socket directory as the host, several hosts.
                    super::backend::check_postgres_url(text)
                        .map_err(|reason| LocationError::BadPostgresUrl { reason })?;
                    Ok(StateLocation::Postgres(PostgresUrl(text.to_string())))
                }
                "s3" => {
                    let (bucket, key) = rest.split_once('/').ok_or(LocationError::BadS3Url)?;
                    if bucket.is_empty() || key.is_empty() || key.ends_with('/') {
                        return Err(LocationError::BadS3Url);
                    }
                    Ok(StateLocation::S3(S3Object { bucket: bucket.to_string(), key: key.to_string() }))
                }
                other => Err(LocationError::UnknownScheme { scheme: shown_scheme(other) }),
            };
        }
        if let Some(keywords) = libpq_keywords(text) {
            return Err(LocationError::PostgresKeywords { keywords });
        }
        Ok(StateLocation::File(PathBuf::from(text)))
    }

    /// The file, for a state kept in one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            StateLocation::File(path) => Some(path),
            _ => None,
        }
    }

    /// Whether the state leaves this machine (a database or a bucket).
    pub fn is_remote(&self) -> bool {
        matches!(self, StateLocation::Postgres(_) | StateLocation::S3(_))
    }
}

/// The scheme of `text` and what follows `://`, when `text` is a URL rather than a path.
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let plain = !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-');
    plain.then_some((scheme, rest))
}

/// A scheme as a message may repeat it: short and plain, or not at all.
fn shown_scheme(scheme: &str) -> String {
    match scheme.len() <= 20 {
        true => scheme.to_string(),
        false => "(a long scheme)".to_string(),
    }
}

/// The keywords of a libpq keyword string (`host=h dbname=d`), if `text` is one: every word a
/// `keyword=value` pair and at least one keyword libpq knows. Only the keywords are returned.
fn libpq_keywords(text: &str) -> Option<String> {
    let mut keywords = Vec::new();
    for word in text.split_whitespace() {
        let (keyword, _) = word.split_once('=')?;
        keywords.push(keyword);
    }
    keywords
        .iter()
        .any(|k| LIBPQ_KEYWORDS.contains(k))
        .then(|| keywords.iter().map(|k| format!("{k}=…")).collect::<Vec<_>>().join(" "))
}

impl PostgresUrl {
    /// The URL as given, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PostgresUrl {
    /// The URL with the password of its user part and of a `password=` parameter replaced by `***`.
    /// Written on the raw text rather than through a URL parser: libpq's forms (an empty host, a
    /// percent-encoded socket directory, several hosts) are not URLs every parser takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = &self.0;
        let Some((scheme, rest)) = text.split_once("://") else {
            return f.write_str("postgres://(a URL that does not parse)");
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((before, query)) => (before, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.find('/') {
            Some(at) => before_query.split_at(at),
            None => (before_query, ""),
        };
        write!(f, "{scheme}://")?;
        match authority.rsplit_once('@') {
            Some((user_info, hosts)) => {
                let user = user_info.split_once(':').map_or(user_info, |(user, _)| user);
                let password = if user_info.contains(':') { ":***" } else { "" };
                write!(f, "{user}{password}@{hosts}")?;
            }
            None => f.write_str(authority)?,
        }
        f.write_str(path)?;
        if let Some(query) = query {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key == "password" => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            write!(f, "?{}", pairs.join("&"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

impl fmt::Display for S3Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::File(path) => write!(f, "{}", path.display()),
            StateLocation::Postgres(url) => url.fmt(f),
            StateLocation::S3(object) => object.fmt(f),
            StateLocation::Memory => f.write_str("memory"),
        }
    }
}

/// As `Display`: a location is never shown with its password, not even in a `{:?}`.
impl fmt::Debug for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateLocation({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_told_apart_once() {
        assert_eq!(StateLocation::parse("vapp.state.json"), Ok(StateLocation::File("vapp.state.json".into())));
        assert_eq!(StateLocation::parse("dir/my=state.json"), Ok(StateLocation::File("dir/my=state.json".into())));
        let s3 = StateLocation::parse("s3://bucket/team/vapp.json").unwrap();
        assert_eq!(s3, StateLocation::S3(S3Object { bucket: "bucket".into(), key: "team/vapp.json".into() }));
        assert!(s3.is_remote());
        assert_eq!(StateLocation::parse("s3://bucket/"), Err(LocationError::BadS3Url));
        assert!(matches!(StateLocation::parse("postgresql://u@h/db"), Ok(StateLocation::Postgres(_))));
        assert_eq!(StateLocation::parse("ftp://x/y"), Err(LocationError::UnknownScheme { scheme: "ftp".into() }));
        assert_eq!(StateLocation::parse("  "), Err(LocationError::Empty));
    }

    #[test]
    fn passwords_never_show() {
        let url = StateLocation::parse("postgres://vapp:hunter2@db:5432/vapp?password=swordfish&workspace=a").unwrap();
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(!shown.contains("hunter2") && !shown.contains("swordfish"), "{shown}");
            assert!(shown.contains("vapp:***@db:5432") && shown.contains("workspace=a"), "{shown}");
        }
        let error = StateLocation::parse("host=db dbname=vapp password=hunter2").unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("hunter2") && shown.contains("password=…"), "{shown}");
        let error = StateLocation::parse("postgres://vapp:hunter2@db:99999999/x").unwrap_err();
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }

    /// libpq's Unix-socket forms: an empty host with `host=` in the query, and a percent-encoded socket
    /// directory as the host.
    #[test]
    fn libpq_socket_forms_parse_and_show_without_passwords() {
        for text in [
            "postgres://vapp@/vappstate?host=/var/run/postgresql&port=5432&workspace=prod",
            "postgresql:///vappstate?host=/var/run/postgresql",
            "postgres://vapp@%2Fvar%2Frun%2Fpostgresql/vappstate?workspace=prod",
            "postgres://vapp:hunter2@%2Fvar%2Frun%2Fpostgresql:5432/vappstate",
            "postgres://vapp@db1:5432,db2:5433/vappstate",
        ] {
            let location = StateLocation::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let shown = location.to_string();
            assert!(!shown.contains("hunter2"), "{shown}");
            if !text.contains("hunter2") {
                assert_eq!(shown, text);
            }
        }
        let shown =
            StateLocation::parse("postgres://vapp:hunter2@%2Ftmp/db?password=x&workspace=w").unwrap().to_string();
        assert_eq!(shown, "postgres://vapp:***@%2Ftmp/db?password=***&workspace=w");
        assert!(StateLocation::parse("postgres://h/db?port=notaport").is_err());
    }
}
