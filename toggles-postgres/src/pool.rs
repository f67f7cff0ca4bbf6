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

use std::sync::{Mutex, PoisonError};

use postgres::Client;

/// Idle connections, up to a number; one is opened whenever none is idle.
pub(crate) struct Pool {
    idle: Mutex<Vec<Client>>,
    keep: usize,
}

/// A connection taken from the pool, given back when dropped unless it broke.
pub(crate) struct Pooled<'p> {
    client: Option<Client>,
    pool: &'p Pool,
}

impl Pool {
    /// A pool keeping at most `keep` idle connections.
    pub(crate) const fn new(keep: usize) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            keep,
        }
    }

    /// An idle connection that is still open, or a new one from `connect`.
    pub(crate) fn get<E>(
        &self,
        connect: impl FnOnce() -> Result<Client, E>,
    ) -> Result<Pooled<'_>, E> {
        let idle = loop {
            let next = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            // A connection that closed while idle is dropped, and the next one looked at.
            if next.as_ref().is_none_or(|client| !client.is_closed()) {
                break next;
            }
        };
        let client = match idle {
            Some(client) => client,
            None => connect()?,
        };
        Ok(Pooled {
            client: Some(client),
            pool: self,
        })
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
        if client.is_closed() {
            return;
        }
        let mut idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.pool.keep {
            idle.push(client);
        }
    }
}
