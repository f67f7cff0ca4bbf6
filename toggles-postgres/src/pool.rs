//! The store's connections: a few kept open and shared by loads, writes, audit queries and
//! reports, so a report or an audit page never holds up a reload, and no operation waits for
//! another's connection.
//!
//! Written here rather than taken from r2d2 because of what a failure must look like: r2d2
//! retries a failed connect in the background until its timeout and then reports only the
//! message of the last error, so a database that refuses at once (down, a certificate that does
//! not verify) would hold every reload for the whole timeout and lose the reason. Here a
//! connect is made by the caller that needs it, bounded by the driver's connect timeout, and
//! fails with the driver's own error.
//!
//! A connection that sat idle a while is checked with a round trip before it is handed out:
//! after a server restart the driver does not know its idle connections are dead until one is
//! used, and the first reload after an outage must not fail on one.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postgres::Client;

/// How long a connection may sit idle before it is checked on the way out.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// How long that check may take.
const CHECK_WITHIN: Duration = Duration::from_secs(1);

/// Open connections, at most `most` at once, up to `keep` of them kept idle.
pub(crate) struct Pool {
    state: Mutex<State>,
    freed: Condvar,
    keep: usize,
    most: usize,
}

struct State {
    /// Idle connections, with when each was given back.
    idle: Vec<(Client, Instant)>,
    /// Connections open: idle, handed out, or being opened.
    open: usize,
}

/// Why no connection could be had.
pub(crate) enum Unavailable<E> {
    /// Opening one failed.
    Connect(E),
    /// All `most` were in use for the whole wait.
    Busy(usize),
}

/// A connection taken from the pool, given back when dropped unless it broke.
pub(crate) struct Pooled<'p> {
    client: Option<Client>,
    pool: &'p Pool,
}

impl Pool {
    /// A pool of at most `most` connections, keeping up to `keep` idle.
    pub(crate) const fn new(keep: usize, most: usize) -> Pool {
        Pool {
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            keep,
            most,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection that still answers, or a new one from `connect`; waits up to `wait`
    /// when all are in use.
    pub(crate) fn get<E>(
        &self,
        connect: impl FnOnce() -> Result<Client, E>,
        wait: Duration,
    ) -> Result<Pooled<'_>, Unavailable<E>> {
        let deadline = Instant::now() + wait;
        let mut state = self.state();
        loop {
            if let Some((mut client, since)) = state.idle.pop() {
                drop(state);
                let alive = !client.is_closed()
                    && (since.elapsed() < CHECK_AFTER || client.is_valid(CHECK_WITHIN).is_ok());
                if alive {
                    return Ok(self.pooled(client));
                }
                state = self.state();
                state.open -= 1;
                continue;
            }
            if state.open < self.most {
                state.open += 1;
                drop(state);
                return match connect() {
                    Ok(client) => Ok(self.pooled(client)),
                    Err(e) => {
                        self.state().open -= 1;
                        self.freed.notify_one();
                        Err(Unavailable::Connect(e))
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Unavailable::Busy(self.most));
            }
            state = self
                .freed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn pooled(&self, client: Client) -> Pooled<'_> {
        Pooled {
            client: Some(client),
            pool: self,
        }
    }
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("held until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let mut state = self.pool.state();
        if client.is_closed() || state.idle.len() >= self.pool.keep {
            state.open -= 1;
        } else {
            state.idle.push((client, Instant::now()));
        }
        drop(state);
        self.pool.freed.notify_one();
    }
}
