//! `GET /v1/watch?prefix=P`: Server-Sent Events, one JSON change per event, in the order the
//! store applied them. Each event's id is the change's number: a client resumes after it with
//! `Last-Event-ID` (EventSource sends it on reconnection; it wins) or `?after=SEQ`. A cursor older than
//! the ring of recent changes (or from before a restart) gets a `resync` event; a client that
//! falls more than the broadcast's capacity behind gets a `lagged` event (data
//! `lagged: resync`): it missed changes and should list what it needs again. Either way the
//! node keeps a bounded buffer per client.

use super::feed::Change;
use super::routes::version_json;
use super::Shared;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

/// `GET /v1/watch` parameters.
#[derive(Debug, Deserialize)]
pub struct WatchQuery {
    #[serde(default)]
    prefix: String,
    after: Option<u64>,
}

/// A change as the watch sends it.
pub fn change_json(change: &Change) -> String {
    let write = &change.write;
    json!({
        "seq": change.seq,
        "key": write.key,
        "value": write.value,
        "deleted": write.value.is_none(),
        "version": version_json(write),
    })
    .to_string()
}

struct Watcher {
    resync: bool,
    backlog: VecDeque<Arc<Change>>,
    receiver: broadcast::Receiver<Arc<Change>>,
    last_seq: u64,
    prefix: String,
}

impl Watcher {
    async fn next(&mut self) -> Option<Event> {
        if std::mem::take(&mut self.resync) {
            return Some(Event::default().event("resync").data("resync"));
        }
        loop {
            let change = match self.backlog.pop_front() {
                Some(change) => change,
                None => match self.receiver.recv().await {
                    Ok(change) => change,
                    Err(RecvError::Lagged(missed)) => {
                        return Some(
                            Event::default()
                                .event("lagged")
                                .data(format!("lagged: resync ({missed} changes missed)")),
                        );
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            if change.seq <= self.last_seq {
                continue;
            }
            self.last_seq = change.seq;
            if change.write.key.starts_with(&self.prefix) {
                return Some(
                    Event::default()
                        .id(change.seq.to_string())
                        .data(change_json(&change)),
                );
            }
        }
    }
}

/// `GET /v1/watch`.
pub async fn watch(
    State(shared): State<Shared>,
    Query(query): Query<WatchQuery>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // A reconnecting EventSource sends Last-Event-ID with the URL it first opened: the header
    // wins over `after`.
    let after = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
        .or(query.after);
    let subscription = shared.feed.subscribe(after);
    let watcher = Watcher {
        // After a resync the client starts afresh from what comes next.
        last_seq: if subscription.resync {
            0
        } else {
            after.unwrap_or(0)
        },
        resync: subscription.resync,
        backlog: subscription.backlog.into(),
        receiver: subscription.receiver,
        prefix: query.prefix,
    };
    let events = stream::unfold(watcher, |mut watcher| async move {
        let event = watcher.next().await?;
        Some((Ok(event), watcher))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
