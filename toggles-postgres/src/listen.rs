//! The listener: a dedicated connection that `LISTEN`s for the schema's changes and reports
//! them, reconnecting with backoff and reporting a change after every (re)connect, since
//! notifications sent while it was away are lost.

use std::sync::Weak;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use toggles_runtime::store::OnChange;

use crate::schema;
use crate::store::Inner;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);
/// How long a wait for a notification lasts before the listener checks the store still exists.
const WAKE: Duration = Duration::from_millis(500);

/// Listens until the store is dropped.
pub(crate) fn run(store: &Weak<Inner>, on_change: &OnChange) {
    let mut retry = FIRST_RETRY;
    let mut down = false;
    loop {
        let Some(inner) = store.upgrade() else { return };
        let connected = inner
            .config
            .connect(inner.tls.clone())
            .and_then(|mut client| {
                schema::migrate(&mut client, &inner.schema)?;
                client.batch_execute(&format!("LISTEN \"{}\"", inner.channel))?;
                Ok(client)
            });
        let mut client = match connected {
            Ok(client) => client,
            Err(e) => {
                drop(inner);
                if !down {
                    tracing::warn!(error = %e, "toggles: cannot listen for changes; retrying with backoff");
                    down = true;
                }
                // A reload attempt at each retry: while the database is away it fails and says
                // so in the runtime's status (the last good state stays in force); if only the
                // listening failed, it still picks up what changed.
                on_change();
                std::thread::sleep(retry);
                retry = (retry * 2).min(LAST_RETRY);
                continue;
            }
        };
        if down {
            tracing::info!(store = %inner.schema, "toggles: listening for changes again");
        }
        down = false;
        retry = FIRST_RETRY;
        drop(inner);
        // Whatever changed while nobody listened is read in full.
        on_change();
        loop {
            let next = client.notifications().timeout_iter(WAKE).next();
            let Some(inner) = store.upgrade() else { return };
            match next {
                Ok(Some(notification)) => {
                    if notification.payload() != inner.writer {
                        drop(inner);
                        on_change();
                    }
                }
                Ok(None) if client.is_closed() => break,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(store = %inner.schema, error = %e, "toggles: the listening connection broke; reconnecting");
                    break;
                }
            }
        }
    }
}
