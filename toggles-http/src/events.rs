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

/// The router's change streams as the server sees them: how many are open, and a way to end
/// them all, for a server shutting down gracefully (an open stream never ends by itself, so it
/// would hold the server until its deadline). Give a clone to [`Config::streams`](crate::Config::streams).
///
/// ```
/// use toggles::http::{router, BearerTokens, Config, Streams};
///
/// let streams = Streams::new();
/// let app: axum::Router =
///     router(Config::new(BearerTokens::from_json("{}").unwrap()).streams(&streams));
/// assert_eq!(streams.open(), 0);
/// // On SIGTERM: stop accepting, then
/// streams.close();
/// ```
#[derive(Debug, Clone)]
pub struct Streams {
    pub(crate) closed: Arc<watch::Sender<bool>>,
    open: Arc<std::sync::atomic::AtomicUsize>,
    following: Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Streams {
    fn default() -> Streams {
        Streams::new()
    }
}

impl Streams {
    /// Streams none has closed.
    pub fn new() -> Streams {
        Streams {
            closed: Arc::new(watch::Sender::new(false)),
            open: Arc::default(),
            following: Arc::default(),
        }
    }

    /// Ends every open stream (each client's provider reconnects, to another replica) and
    /// every stream opened after.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// How many OFREP change streams are open.
    pub fn open(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many followers' sync streams are open.
    pub fn following(&self) -> usize {
        self.following.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Counts a stream open for as long as it lives.
pub(crate) struct Open(Arc<std::sync::atomic::AtomicUsize>);

impl Open {
    fn new(streams: &Streams) -> Open {
        Open::counting(&streams.open)
    }

    /// A follower's sync stream.
    pub(crate) fn follower(streams: &Streams) -> Open {
        Open::counting(&streams.following)
    }

    fn counting(count: &Arc<std::sync::atomic::AtomicUsize>) -> Open {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Open(Arc::clone(count))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

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
    let open = Open::new(&shared.streams);
    // `None` once the server closes its streams, which ends this one.
    let closed = WatchStream::new(shared.streams.closed.subscribe())
        .filter(|closed| *closed)
        .map(|_| None);
    let events = tokio_stream::iter(missed)
        .chain(WatchStream::from_changes(changes))
        .map(Some)
        .merge(closed)
        .take_while(Option::is_some)
        .map(move |generation| {
            let _open = &open;
            let data = json!({ "type": "refetchEvaluation" }).to_string();
            let id = generation.unwrap_or_default().to_string();
            Ok(Event::default().id(id).data(data))
        });
    Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT))
}
