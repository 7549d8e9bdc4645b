//! The base URL of an API, parsed once where the user gives it: an absolute `http://` or `https://` URL
//! with a host, and nothing a base URL must not carry. Above all no user name or password: vapp sends
//! credentials in a header, and a URL is printed in messages, recorded in the state and shown by `ps`.

use std::fmt;

/// Vonage's own API hosts end with these: traffic is never simulated against them.
const VONAGE_DOMAINS: &[&str] = &["nexmo.com", "vonage.com"];

/// An API's base URL, without a trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(url::Url);

/// Why a URL cannot be an API's base URL. Shows the URL only when it is safe to: without user info,
/// and only once it parses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the URL {shown}{reason}")]
pub struct BadUrl {
    /// The URL as a message may show it (user info replaced), or nothing when it does not parse.
    shown: String,
    reason: &'static str,
}

impl BadUrl {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self.reason {
            USER_INFO => "give the API key and secret in VONAGE_API_KEY and VONAGE_API_SECRET, never in a URL".into(),
            _ => "give an http:// or https:// URL, e.g. https://api.nexmo.com".into(),
        }
    }
}

const USER_INFO: &str = "must not carry a user name or password";

impl BaseUrl {
    pub fn parse(text: &str) -> Result<BaseUrl, BadUrl> {
        let parsed = url::Url::parse(text.trim())
            .map_err(|_| BadUrl { shown: String::new(), reason: "does not parse: give an absolute URL" })?;
        let bad = |reason| {
            let mut shown = parsed.clone();
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            let mut text = shown.to_string();
            if !parsed.username().is_empty() || parsed.password().is_some() {
                text = text.replacen("://", "://***@", 1);
            }
            Err(BadUrl { shown: format!("{text} "), reason })
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            return bad("is not an http:// or https:// URL");
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return bad(USER_INFO);
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return bad("names no host");
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return bad("must not have a query");
        }
        Ok(BaseUrl(parsed))
    }

    /// The URL, without a trailing slash: paths are appended to it.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// Whether it is one of Vonage's own hosts.
    pub fn is_vonage(&self) -> bool {
        self.0.host_str().is_some_and(|host| {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            VONAGE_DOMAINS.iter().any(|domain| host == *domain || host.ends_with(&format!(".{domain}")))
        })
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_refused_and_never_shown() {
        let error = BaseUrl::parse("http://KEY:SECRET@127.0.0.1:8080").unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("SECRET") && !shown.contains("KEY"), "{shown}");
        assert_eq!(error.to_string(), "the URL http://***@127.0.0.1:8080/ must not carry a user name or password");
        assert!(error.help().contains("VONAGE_API_SECRET"));
        assert!(BaseUrl::parse("http://only-user@host").is_err());
        let error = BaseUrl::parse("http://u:SECRET@host:99999999").unwrap_err();
        assert!(!format!("{error:?}").contains("SECRET"));
    }

    #[test]
    fn base_urls_are_absolute_http_without_a_query() {
        assert_eq!(BaseUrl::parse("https://api.nexmo.com/").unwrap().as_str(), "https://api.nexmo.com");
        assert_eq!(BaseUrl::parse("http://127.0.0.1:8080").unwrap().to_string(), "http://127.0.0.1:8080");
        assert!(BaseUrl::parse("ftp://x").is_err());
        assert!(BaseUrl::parse("api.nexmo.com").is_err());
        assert!(BaseUrl::parse("https://h/?a=b").is_err());
        assert!(BaseUrl::parse("https://api.nexmo.com").unwrap().is_vonage());
        assert!(BaseUrl::parse("https://api-eu.vonage.com").unwrap().is_vonage());
        assert!(!BaseUrl::parse("https://notvonage.com.example").unwrap().is_vonage());
        assert!(!BaseUrl::parse("http://127.0.0.1:1").unwrap().is_vonage());
    }
}
