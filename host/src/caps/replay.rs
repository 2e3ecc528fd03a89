//! The guest's request body, kept so that a request refused with a 401 can be sent once more
//! with a fresh credential. Bodies up to [`MAX_REPLAY_BYTES`] are held in memory; a larger one
//! is streamed through as read so far + the rest, and can be sent only once.

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

/// Largest body kept for a resend (8 MiB).
pub const MAX_REPLAY_BYTES: usize = 8 << 20;

/// A request body that may be sent more than once.
pub struct ReplayableBody {
    chunks: Vec<Bytes>,
    trailers: Option<HeaderMap>,
    /// The unread rest of a body too large to keep; `None` once it was handed out.
    rest: Option<WasiBody>,
    too_large: bool,
}

impl ReplayableBody {
    /// Reads `body` until its end or until more than `limit` bytes were read.
    pub async fn read(mut body: WasiBody, limit: usize) -> Result<Self, HttpError> {
        let mut chunks = Vec::new();
        let mut trailers = None;
        let mut size = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            match frame.into_data() {
                Ok(data) => {
                    size += data.len();
                    chunks.push(data);
                    if size > limit {
                        return Ok(Self {
                            chunks,
                            trailers: None,
                            rest: Some(body),
                            too_large: true,
                        });
                    }
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers = Some(t);
                    }
                }
            }
        }
        Ok(Self {
            chunks,
            trailers,
            rest: None,
            too_large: false,
        })
    }

    /// True when the whole body is held and can be sent again.
    pub fn replayable(&self) -> bool {
        !self.too_large
    }

    /// The body for one attempt; `None` when a too-large body was already sent.
    pub fn take_attempt(&mut self) -> Option<WasiBody> {
        if self.too_large {
            let rest = self.rest.take()?;
            let chunks = std::mem::take(&mut self.chunks);
            return Some(
                Prefixed {
                    chunks: chunks.into(),
                    trailers: None,
                    rest: Some(rest),
                }
                .boxed_unsync(),
            );
        }
        Some(
            Prefixed {
                chunks: self.chunks.iter().cloned().collect(),
                trailers: self.trailers.clone(),
                rest: None,
            }
            .boxed_unsync(),
        )
    }
}

/// Chunks already read, then the rest of the original body, then trailers.
struct Prefixed {
    chunks: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
    rest: Option<WasiBody>,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        if let Some(chunk) = self.chunks.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(rest) = self.rest.as_mut() {
            match Pin::new(rest).poll_frame(cx) {
                Poll::Ready(None) => self.rest = None,
                other => return other,
            }
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && self.rest.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let held: u64 = self.chunks.iter().map(|c| c.len() as u64).sum();
        match &self.rest {
            None => SizeHint::with_exact(held),
            Some(rest) => {
                let r = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(held + r.lower());
                if let Some(upper) = r.upper() {
                    hint.set_upper(held + upper);
                }
                hint
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn body(text: &'static str) -> WasiBody {
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    async fn text(b: WasiBody) -> String {
        String::from_utf8(b.collect().await.ok().unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_small_body_is_sent_twice() {
        let mut b = ReplayableBody::read(body("hello"), 100).await.ok().unwrap();
        assert!(b.replayable());
        assert_eq!(text(b.take_attempt().unwrap()).await, "hello");
        assert_eq!(text(b.take_attempt().unwrap()).await, "hello");
    }

    #[tokio::test]
    async fn a_large_body_is_streamed_once() {
        let mut b = ReplayableBody::read(body("hello world"), 3)
            .await
            .ok()
            .unwrap();
        assert!(!b.replayable());
        assert_eq!(text(b.take_attempt().unwrap()).await, "hello world");
        assert!(b.take_attempt().is_none());
    }
}
