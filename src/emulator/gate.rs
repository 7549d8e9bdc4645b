//! A test's hand on the emulator: while a [`Gate`] is closed, the requests that change the account
//! (anything but a GET) wait before they are carried out, until the test opens it; the test can wait
//! until a given number of them are waiting. Tests catch an apply mid-flight with it (a lock held,
//! calls under way) by synchronisation rather than by hoping a latency is long enough. A request is
//! never held longer than [`MAX_HOLD`].

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use axum::http::Method;

/// The longest a request is held: a test that forgets to open the gate does not hang for ever.
pub const MAX_HOLD: Duration = Duration::from_secs(120);

#[derive(Clone, Default)]
pub struct Gate {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<GateState>,
    changed: Condvar,
    opened: tokio::sync::Notify,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    /// Requests waiting now.
    held: usize,
}

impl Gate {
    /// An open gate.
    pub fn new() -> Gate {
        Gate::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on, changes wait.
    pub fn close(&self) {
        self.lock().closed = true;
    }

    /// Lets every held change, and every later one, through.
    pub fn open(&self) {
        self.lock().closed = false;
        self.inner.opened.notify_waiters();
        self.inner.changed.notify_all();
    }

    /// Waits (blocking the thread) until `count` changes are held, for at most `timeout`; whether they
    /// are.
    pub fn wait_until_held(&self, count: usize, timeout: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .inner
            .changed
            .wait_timeout_while(state, timeout, |s| s.held < count && s.closed)
            .unwrap_or_else(|p| p.into_inner());
        state.held >= count
    }

    /// Holds a request while the gate is closed, if it is a change.
    pub(crate) async fn pass(&self, method: &Method) {
        if *method == Method::GET {
            return;
        }
        {
            let mut state = self.lock();
            if !state.closed {
                return;
            }
            state.held += 1;
        }
        self.inner.changed.notify_all();
        let wait = async {
            loop {
                // Made before the check, so an `open` between the two is not missed.
                let opened = self.inner.opened.notified();
                if !self.lock().closed {
                    return;
                }
                opened.await;
            }
        };
        let _ = tokio::time::timeout(MAX_HOLD, wait).await;
        self.lock().held -= 1;
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        write!(f, "Gate {{ closed: {}, held: {} }}", state.closed, state.held)
    }
}
