//! Bounds on what one request may hold: its body must arrive whole within
//! a deadline ([`DeadlineBody`]), costly work stops when the request ends
//! ([`CancelOnDrop`]), and one token runs at most one costly query at a
//! time ([`TokenSlots`]).

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::Shared;

/// A request body that was not received in full by its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body was not received in full within {0} s")]
pub struct BodyTimedOut(pub u64);

impl BodyTimedOut {
    /// Whether `err` is, or was caused by, a body deadline.
    pub fn caused(err: &(dyn std::error::Error + 'static)) -> Option<BodyTimedOut> {
        let mut cur = Some(err);
        while let Some(e) = cur {
            if let Some(t) = e.downcast_ref::<BodyTimedOut>() {
                return Some(*t);
            }
            cur = e.source();
        }
        None
    }
}

/// A body that fails once `limit` has passed since the request began,
/// however steadily its bytes trickle in. (A per-chunk timeout, which the
/// server had, holds a body sent a byte every few seconds until the whole
/// request times out.)
pub struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    secs: u64,
}

impl DeadlineBody {
    /// `inner`, cut off `limit` from now.
    pub fn new(inner: Body, limit: Duration) -> Self {
        DeadlineBody {
            inner,
            sleep: Box::pin(tokio::time::sleep(limit)),
            secs: limit.as_secs(),
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        // Data already here is taken before the clock is looked at.
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(self.secs))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: every request body must arrive within `body_timeout_secs`
/// of the request's start.
pub async fn body_deadline(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let limit = Duration::from_secs(shared.config().body_timeout_secs);
    next.run(req.map(|b| Body::new(DeadlineBody::new(b, limit))))
        .await
}

/// Sets its flag when dropped: a blocking task polls the flag and stops
/// once the request that started it is gone (answered, timed out, or the
/// client hung up).
#[derive(Debug)]
pub struct CancelOnDrop(Arc<AtomicBool>);

impl CancelOnDrop {
    /// A fresh guard and the flag it sets.
    pub fn new() -> (CancelOnDrop, Arc<AtomicBool>) {
        let flag = Arc::new(AtomicBool::new(false));
        (CancelOnDrop(flag.clone()), flag)
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Tokens that hold their one slot for a costly query.
#[derive(Debug, Default)]
pub struct TokenSlots {
    held: Mutex<HashSet<String>>,
}

/// A token's slot, given back when dropped.
#[derive(Debug)]
pub struct Slot<'a> {
    slots: &'a TokenSlots,
    token: String,
}

impl TokenSlots {
    /// The slot of token `id`, or `None` while it holds it already.
    pub fn try_take(&self, id: &str) -> Option<Slot<'_>> {
        let mut held = self.held.lock().ok()?;
        held.insert(id.to_string()).then(|| Slot {
            slots: self,
            token: id.to_string(),
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut held) = self.slots.held.lock() {
            held.remove(&self.token);
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[test]
    fn one_slot_per_token_given_back_when_dropped() {
        let slots = TokenSlots::default();
        let a = slots.try_take("a").unwrap();
        assert!(
            slots.try_take("a").is_none(),
            "a second query of the same token waits"
        );
        let b = slots.try_take("b");
        assert!(b.is_some(), "another token is not held up");
        drop(a);
        assert!(slots.try_take("a").is_some());
    }

    #[test]
    fn a_dropped_guard_cancels() {
        let (guard, flag) = CancelOnDrop::new();
        assert!(!flag.load(Ordering::Acquire));
        drop(guard);
        assert!(flag.load(Ordering::Acquire));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickling_body_is_cut_off_at_the_deadline_not_per_chunk() {
        // One byte every second, for ever: each chunk is prompt, the whole never ends.
        let trickle = futures_util_stream();
        let body = DeadlineBody::new(Body::from_stream(trickle), Duration::from_secs(30));
        let err = body.collect().await.unwrap_err();
        assert_eq!(BodyTimedOut::caused(&err), Some(BodyTimedOut(30)), "{err}");
        // Quiet: a body that arrives in time is passed through whole.
        let body = DeadlineBody::new(Body::from("whole"), Duration::from_secs(30));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "whole");
    }

    fn futures_util_stream()
    -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            loop {
                if tx.send(Ok(Bytes::from_static(b"x"))).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }
}
