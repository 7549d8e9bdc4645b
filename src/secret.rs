//! A secret given to vapp (an API secret, a signature secret): it prints as `<redacted>` in `Debug` and
//! `Display`, so no message, log line or panic can carry it, and its memory is wiped on drop. The text
//! is reachable only through [`Secret::expose`], at the one place that must send it.

use std::fmt;

use zeroize::Zeroizing;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Secret(Zeroizing::new(text.into()))
    }

    /// The secret's text. Call only where it must leave vapp (an Authorization header, a signature).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(text))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_secret_never_prints() {
        let secret = super::Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "<redacted> Secret(<redacted>)");
        assert_eq!(secret.expose(), "hunter2");
    }
}
