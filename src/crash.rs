//! Crash points for the tests that kill vapp at each step of a multi-step change (`vapp state mv
//! --to-state`, a number's transfer between accounts): when `VAPP_CRASH_AT` names a point, vapp SIGKILLs itself there, with no cleanup, as
//! a killed CI runner would. Unset (as always outside those tests), a point does nothing.

/// Dies at once when `VAPP_CRASH_AT` is `point`.
pub fn point(point: &str) {
    if std::env::var("VAPP_CRASH_AT").is_ok_and(|at| at == point) {
        die();
    }
}

#[cfg(unix)]
fn die() {
    // SIGKILL, as `kill -9` sends it: no destructor, no lock release, no flush.
    let _ = std::process::Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
    // The signal is delivered before `kill` returns; if it was not, abort is the nearest thing.
    std::process::abort();
}

#[cfg(not(unix))]
fn die() {
    std::process::abort();
}
