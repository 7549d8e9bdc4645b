//! Build-time work, from the sources alone:
//! - `vapp --version` names the commit it was built from (`VAPP_VERSION`), or says it was built
//!   outside Git (a release archive's sources, `cargo install` from a registry);
//! - the man pages (`vapp.1` and one per command) and the bash, zsh and fish completions are made from
//!   the command line's own definitions (`src/cli/definitions.rs`, included here as it is compiled into
//!   vapp), into `target/<profile>/assets/`, where `cargo deb` and the release archives take them (see
//!   `[package.metadata.deb]` in `Cargo.toml`). Nothing generated is committed.
//!
//! Writing beside `OUT_DIR` rather than in it is what lets `cargo deb` find the files at a path it
//! knows (`target/release/assets/…`); the folder is emptied first, so no page of a removed command stays.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

#[allow(dead_code)]
#[path = "src/cli/definitions.rs"]
mod definitions;

/// Stand-ins for what the definitions take from the library: help and completions need the options'
/// names, values and help, never a parsed value, so every parser here accepts anything.
#[allow(dead_code, non_snake_case)]
mod args {
    use std::time::Duration;

    pub type Address = String;
    pub type AppId = String;
    pub type BaseUrl = String;
    pub type StateLocation = String;
    pub type Secret = String;
    pub type AccountArg = String;

    #[derive(Clone, Copy, Debug)]
    pub enum Act {
        Press,
        Say,
    }

    pub const VERSION: &str = env!("CARGO_PKG_VERSION");
    pub const DEFAULT_API_URL: &str = "https://api.nexmo.com";
    pub const DEFAULT_API_KEY: &str = "sandbox";
    pub const DEFAULT_API_SECRET: &str = "sandbox";
    pub const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);
    pub const MAX_NUMBERS_PACE: Duration = Duration::from_secs(60);
    pub const MAX_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

    pub fn duration_at_most(_: Duration) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
        |_: &str| Ok(Duration::ZERO)
    }

    pub fn address(text: &str) -> Result<String, String> {
        Ok(text.to_string())
    }

    pub fn app_id(text: &str) -> Result<String, String> {
        Ok(text.to_string())
    }

    pub fn state_location(text: &str) -> Result<String, String> {
        Ok(text.to_string())
    }

    pub fn base_url(text: &str) -> Result<String, String> {
        Ok(text.to_string())
    }

    pub fn parse_account_arg(text: &str) -> Result<String, String> {
        Ok(text.to_string())
    }

    pub fn probability(_: &str) -> Result<f64, String> {
        Ok(0.0)
    }

    /// The library's `Quiet(parser)`: here the parser itself.
    pub fn Quiet(parser: fn(&str) -> Result<String, String>) -> fn(&str) -> Result<String, String> {
        parser
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/cli/definitions.rs");
    let version = version();
    println!("cargo:rustc-env=VAPP_VERSION={version}");
    if let Err(e) = assets(&version) {
        println!("cargo:warning=the man pages and completions were not made: {e}");
    }
}

/// The version and the commit: `0.1.0 (commit 1a2b3c4d5e6f)`.
fn version() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let git = |args: &[&str]| -> Option<String> {
        let output = Process::new("git").args(args).output().ok().filter(|o| o.status.success())?;
        Some(String::from_utf8(output.stdout).ok()?.trim().to_string()).filter(|s| !s.is_empty())
    };
    // Only a checkout of this crate itself counts (not a Git repository that happens to hold it).
    let inside = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
        Path::new(&top).join("Cargo.toml") == Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")
    });
    let commit = inside.then(|| git(&["rev-parse", "--short=12", "HEAD"])).flatten();
    match commit {
        Some(commit) => {
            // A new commit or checkout builds anew.
            for path in [
                git(&["rev-parse", "--git-path", "HEAD"]),
                git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])),
            ]
            .into_iter()
            .flatten()
            {
                println!("cargo:rerun-if-changed={path}");
            }
            format!("{version} (commit {commit})")
        }
        None => format!("{version} (built outside Git: no commit recorded)"),
    }
}

/// Writes the man pages and completions into `target/<profile>/assets/`.
fn assets(version: &str) -> std::io::Result<()> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| std::io::Error::other("OUT_DIR is not set"))?);
    // OUT_DIR is target/<profile>/build/vapp-<hash>/out.
    let profile = out.ancestors().nth(3).ok_or_else(|| std::io::Error::other("OUT_DIR is not where cargo puts it"))?;
    let assets = profile.join("assets");
    if assets.exists() {
        std::fs::remove_dir_all(&assets)?;
    }
    let man = assets.join("man");
    std::fs::create_dir_all(&man)?;
    // The pages say the version `vapp --version` says.
    write_pages(definitions::documented_command().version(version.to_string()), "vapp", &man)?;
    // Gzipped as Debian installs them (no timestamp inside, so the same pages make the same files).
    let gz = assets.join("man-gz");
    std::fs::create_dir_all(&gz)?;
    for entry in std::fs::read_dir(&man)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let file = std::fs::File::create(gz.join(format!("{name}.gz")))?;
        let mut encoder = flate2::GzBuilder::new().write(file, flate2::Compression::best());
        encoder.write_all(&std::fs::read(&path)?)?;
        encoder.finish()?;
    }
    let completions = assets.join("completions");
    std::fs::create_dir_all(&completions)?;
    for (shell, file) in [
        (clap_complete::Shell::Bash, "vapp"),
        (clap_complete::Shell::Zsh, "_vapp"),
        (clap_complete::Shell::Fish, "vapp.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut definitions::documented_command(), "vapp", &mut script);
        std::fs::File::create(completions.join(file))?.write_all(&script)?;
    }
    Ok(())
}

/// The page of `command` (named `name`) and of each of its subcommands, `vapp-state-list` style: the
/// same pages `vapp man --out-dir` writes.
fn write_pages(command: clap::Command, name: &str, dir: &Path) -> std::io::Result<()> {
    let command = command.name(name.to_string());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    std::fs::write(dir.join(format!("{name}.1")), page)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        write_pages(sub.clone(), &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
