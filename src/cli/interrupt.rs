//! Interrupts (Ctrl-C, SIGTERM), as just's `interrupt_handler` keeps them: listened for from the moment
//! a command may need them, and turned into what each command does about them.
//!
//! `apply` and `destroy`: the first interrupt stops new calls from starting (calls in flight finish
//! and are recorded); a second one exits at once, which is safe because the state is consistent at
//! every moment. The emulator stops serving.

use std::sync::Arc;

use super::{Exit, Printer};
use crate::apply::Cancel;

/// Ctrl-C and SIGTERM, listened for from the moment this is made (so a signal that comes while work
/// is starting is not missed).
pub struct Interrupts {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Interrupts {
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Interrupts { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
        }
        #[cfg(not(unix))]
        {
            Ok(Interrupts {})
        }
    }

    /// Completes at the next Ctrl-C or SIGTERM.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Cancels `cancel` at the first interrupt and exits the process at the second, telling `printer`'s
/// reader. Runs until aborted.
pub async fn cancel_on_interrupt(mut interrupts: Interrupts, cancel: Arc<Cancel>, printer: Printer) {
    interrupts.next().await;
    cancel.cancel();
    printer.warn("interrupted: no new calls start; waiting for the calls in flight (interrupt again to stop at once)");
    interrupts.next().await;
    std::process::exit(Exit::Interrupted as i32);
}
