//! A response body produced over time (`sys/monitor`'s log lines): the backend hands it over in
//! its [`crate::RawHttp`], the HTTP layer takes it out once and sends its chunks as they come.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::Stream;

/// The chunks of a streamed body; the stream ends when the body does.
pub type Chunks = Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>;

/// A streamed body, shared by the clones of the response that carries it and taken by the first
/// one to send it. Two handles are equal when they hold the same stream.
#[derive(Clone)]
pub struct BodyStream(Arc<Mutex<Option<Chunks>>>);

impl BodyStream {
    /// A body made of `chunks`.
    pub fn new(chunks: impl Stream<Item = Vec<u8>> + Send + 'static) -> BodyStream {
        BodyStream(Arc::new(Mutex::new(Some(Box::pin(chunks)))))
    }

    /// The chunks, once: `None` after the first call.
    pub fn take(&self) -> Option<Chunks> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

impl PartialEq for BodyStream {
    fn eq(&self, other: &BodyStream) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for BodyStream {}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BodyStream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn the_chunks_are_taken_once() {
        let body = BodyStream::new(futures::stream::iter(vec![b"a".to_vec(), b"b".to_vec()]));
        let copy = body.clone();
        assert_eq!(body, copy);
        let chunks: Vec<_> = copy.take().expect("first take").collect().await;
        assert_eq!(chunks, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(body.take().is_none());
    }
}
