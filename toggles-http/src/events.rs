//! OFREP's change stream (`eventStreams`): server-sent events that tell a client's provider to
//! fetch its bulk evaluation again, one per state put in force.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde_json::json;
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::{Stream, StreamExt as _};

use crate::Shared;

/// How long a client's page may sit in the background before its provider closes the stream
/// (and fetches afresh when it returns).
pub(crate) const INACTIVITY_DELAY_SECS: u64 = 120;

/// How often an idle stream carries a comment, so proxies and load balancers keep it open.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// A watch channel of the generation of the state in force, fed by the runtime's
/// [`on_state_change`](toggles_runtime::on_state_change) for as long as the router holds it
/// (the runtime's listener holds it weakly, and lets go once the router is dropped).
pub(crate) fn generations() -> Arc<watch::Sender<u64>> {
    let sender = Arc::new(watch::Sender::new(toggles_runtime::status().generation));
    let weak = Arc::downgrade(&sender);
    toggles_runtime::on_state_change(move |generation| match weak.upgrade() {
        Some(sender) => {
            sender.send_replace(generation);
            true
        }
        None => false,
    });
    sender
}

/// `GET /ofrep/v1/events`: a `refetchEvaluation` event, with the state's generation as its
/// `id`, each time a state is put in force. A reconnecting client that sends `Last-Event-ID`
/// gets one at once if anything changed since; a new one gets none until something changes (it
/// has just fetched). An idle stream carries a comment every 15 s.
pub(crate) async fn stream(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut changes = shared.generations.subscribe();
    let now = *changes.borrow_and_update();
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let missed = last_seen.filter(|seen| *seen < now).map(|_| now);
    let events = tokio_stream::iter(missed)
        .chain(WatchStream::from_changes(changes))
        .map(|generation| {
            let data = json!({ "type": "refetchEvaluation" }).to_string();
            Ok(Event::default().id(generation.to_string()).data(data))
        });
    Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT))
}
