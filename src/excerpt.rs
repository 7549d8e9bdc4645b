//! Text from outside (a server's error page, a webhook's answer) as a message may quote it: only
//! printable characters (no terminal escapes, no control characters), on one line, and bounded, with
//! what was left out counted.

use std::fmt;

/// A quotable excerpt of text vapp did not write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excerpt(String);

impl Excerpt {
    /// The first `max_chars` printable characters of `bytes` (read as UTF-8, lossily), whitespace runs
    /// and control characters folded into single spaces.
    pub fn of(bytes: &[u8], max_chars: usize) -> Excerpt {
        let text = String::from_utf8_lossy(bytes);
        let mut out = String::new();
        let mut kept = 0;
        let mut space = false;
        for c in text.chars() {
            if c.is_whitespace() || c.is_control() || is_invisible(c) {
                space = !out.is_empty();
                continue;
            }
            if kept == max_chars {
                out.push('…');
                return Excerpt(out);
            }
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
            kept += 1;
        }
        Excerpt(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Characters that change how a terminal shows text without being seen: bidirectional overrides and
/// zero-width marks.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Excerpt;

    #[test]
    fn excerpts_are_printable_one_line_and_bounded() {
        let page = b"<html>\r\n\x1b[31mBad\x07 gateway\x1b[0m\t\t</html>\n";
        assert_eq!(Excerpt::of(page, 80).as_str(), "<html> [31mBad gateway [0m </html>");
        assert_eq!(Excerpt::of("abcdef".as_bytes(), 3).as_str(), "abc…");
        assert_eq!(Excerpt::of(b"\xff\xfeok", 10).as_str(), "\u{fffd}\u{fffd}ok");
        assert_eq!(Excerpt::of("a\u{202e}b".as_bytes(), 10).as_str(), "a b");
        assert!(Excerpt::of(b" \n ", 10).is_empty());
    }
}
