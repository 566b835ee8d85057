//! Answers whose body is sent as it is produced (`sys/monitor`). The pipeline builds every
//! answer with a whole body; a streamed one carries its stream in the answer's extensions and
//! leaves the pipeline with an empty body, which [`to_wire`] swaps for the stream.

use std::convert::Infallible;

use arca_sdk::body_stream::{BodyStream, Chunks};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{Either, Full, StreamBody};
use hyper::body::Frame;

use crate::envelope::Answer;

/// The body of an answer on the wire: whole, or streamed.
pub(crate) type WireBody = Either<Full<Bytes>, StreamBody<Frames>>;

/// A streamed body's chunks as data frames.
pub(crate) type Frames =
    futures::stream::Map<Chunks, fn(Vec<u8>) -> Result<Frame<Bytes>, Infallible>>;

/// The stream an answer carries in its extensions.
#[derive(Clone)]
struct Streamed(BodyStream);

/// Makes `answer`'s body `stream` once it leaves the pipeline.
pub(crate) fn attach(answer: &mut Answer, stream: BodyStream) {
    answer.extensions_mut().insert(Streamed(stream));
}

/// Drops the stream `answer` carries (HEAD: the headers only).
pub(crate) fn detach(answer: &mut Answer) {
    answer.extensions_mut().remove::<Streamed>();
}

fn frame(chunk: Vec<u8>) -> Result<Frame<Bytes>, Infallible> {
    Ok(Frame::data(Bytes::from(chunk)))
}

/// The answer as sent: its stream when it carries one (chunked, no length), else its body.
pub(crate) fn to_wire(answer: Answer) -> hyper::Response<WireBody> {
    let (mut parts, body) = answer.into_parts();
    let chunks = parts
        .extensions
        .remove::<Streamed>()
        .and_then(|Streamed(stream)| stream.take());
    match chunks {
        Some(chunks) => {
            let frames: Frames = chunks.map(frame as fn(Vec<u8>) -> _);
            hyper::Response::from_parts(parts, Either::Right(StreamBody::new(frames)))
        }
        None => hyper::Response::from_parts(parts, Either::Left(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_streamed_answer_sends_its_chunks() {
        let mut answer = hyper::Response::new(Full::new(Bytes::new()));
        let chunks = futures::stream::iter(vec![b"one\n".to_vec(), b"two\n".to_vec()]);
        attach(&mut answer, BodyStream::new(chunks));
        let body = to_wire(answer).into_body().collect().await.expect("body");
        assert_eq!(body.to_bytes(), Bytes::from_static(b"one\ntwo\n"));
    }

    #[tokio::test]
    async fn a_detached_answer_keeps_its_body() {
        let mut answer = hyper::Response::new(Full::new(Bytes::from_static(b"whole")));
        attach(&mut answer, BodyStream::new(futures::stream::empty()));
        detach(&mut answer);
        let body = to_wire(answer).into_body().collect().await.expect("body");
        assert_eq!(body.to_bytes(), Bytes::from_static(b"whole"));
    }
}
