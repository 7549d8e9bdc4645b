//! The one owner of stdout and stderr. Data goes to stdout; progress, warnings and errors to stderr.
//! Colour only on a terminal, never with `--no-color` or `NO_COLOR`.

use std::io::{IsTerminal, Write};

#[derive(Clone, Copy, Debug)]
pub struct Printer {
    pub quiet: bool,
    pub verbose: bool,
    pub stdout_color: bool,
    pub stderr_color: bool,
    /// A person watches stderr: progress bars instead of lines.
    pub interactive: bool,
    /// A person reads stdout: tables in aligned columns instead of tab-separated lines.
    pub stdout_terminal: bool,
}

const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Printer {
    /// How plans are drawn on stdout: colours on a terminal, the API's defaults with `-v`.
    pub fn human_style(&self) -> crate::plan::render::HumanStyle {
        crate::plan::render::HumanStyle { color: self.stdout_color, defaults: self.verbose }
    }

    pub fn new(quiet: bool, verbose: bool, no_color: bool) -> Self {
        let color_allowed = !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Printer {
            quiet,
            verbose: verbose && !quiet,
            stdout_color: color_allowed && std::io::stdout().is_terminal(),
            stderr_color: color_allowed && std::io::stderr().is_terminal(),
            interactive: !quiet && std::io::stderr().is_terminal(),
            stdout_terminal: std::io::stdout().is_terminal(),
        }
    }

    /// Data: always printed, whatever `-q` says.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// A progress or status line on stderr; `-q` silences it.
    pub fn status(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// Detail shown only with `-v`.
    pub fn detail(&self, line: &str) {
        if self.verbose {
            eprintln!("{line}");
        }
    }

    pub fn warn(&self, line: &str) {
        if !self.quiet {
            eprintln!("{} {line}", self.paint(YELLOW, "warning:"));
        }
    }

    /// The warnings of a plan, each on its own `warning:` line.
    pub fn plan_warnings(&self, plan: &crate::plan::Plan) {
        for warning in &plan.warnings {
            self.warn(&warning.to_string());
        }
    }

    /// A progress bar over `len` steps on a terminal; `None` elsewhere (plain lines are printed then).
    pub fn bar(&self, len: u64, what: &str) -> Option<indicatif::ProgressBar> {
        if !self.interactive {
            return None;
        }
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {wide_msg}")
            .ok()?
            .progress_chars("=> ");
        let bar = indicatif::ProgressBar::new(len).with_style(style).with_prefix(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(bar)
    }

    /// A spinner for a wait of unknown length, on a terminal only.
    pub fn spinner(&self, what: &str) -> Option<indicatif::ProgressBar> {
        if !self.interactive {
            return None;
        }
        let bar = indicatif::ProgressBar::new_spinner().with_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(bar)
    }

    /// Whether a person can answer a question on standard input.
    pub fn stdin_terminal(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    /// Asks `question` on stderr and reads one line of answer from standard input.
    pub fn ask(&self, question: &str) -> std::io::Result<String> {
        let mut err = std::io::stderr().lock();
        err.write_all(question.as_bytes())?;
        err.flush()?;
        let mut answer = String::new();
        std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut answer)?;
        Ok(answer)
    }

    pub fn error(&self, text: &str) {
        eprintln!("{} {text}", self.paint(RED, "error:"));
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(BOLD, text)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.stderr_color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}
