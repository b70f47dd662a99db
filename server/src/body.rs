//! Large request bodies (imports and sync pushes), read as a blocking stream.
//!
//! The body is pumped from the async side into a bounded channel and read on a blocking thread,
//! where the validator and the JSON parser consume it chunk by chunk, so a raw 1 GB LDIF file
//! never sits in memory. `Content-Encoding: gzip` is decoded on the way. The size limit applies
//! to both the bytes received and the decompressed bytes, so a zip bomb is cut off at the limit
//! with a 413 and never exhausts memory.
//!
//! Every request body, not only uploads, is also [`paced`]: a client that stops sending, or
//! trickles bytes to hold a connection open, is cut off with a 408.

use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use crate::error::AppError;

/// The marker error a [`Limited`] reader returns past its limit.
#[derive(Debug)]
struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("body too large")
    }
}

impl std::error::Error for TooLarge {}

/// The marker error of a body that a client sent too slowly (see [`Pace`]).
#[derive(Debug)]
struct TooSlow;

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client sent the request body too slowly")
    }
}

impl std::error::Error for TooSlow {}

/// Whether `error`, or an error it wraps, is a `T`. A body error reaches its reader wrapped in
/// `axum::Error`, `io::Error` or an extractor's rejection, and `io::Error::source` skips its own
/// custom error, so each link is unwrapped by hand.
fn caused_by<T: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(current) = next {
        if current.is::<T>() {
            return true;
        }
        next = match current.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as _),
            None => current.source(),
        };
    }
    false
}

/// Whether `error` comes from a body that the client sent too slowly (see [`Pace`]), for the
/// extractors of ordinary JSON requests.
pub fn is_too_slow(error: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<TooSlow>(error)
}

/// The answer to a client that sent its body too slowly.
pub fn too_slow() -> AppError {
    AppError::new(StatusCode::REQUEST_TIMEOUT, "request-timeout", TooSlow.to_string())
}

/// Maps a read error of an upload to the answer it deserves: 413 past the limit, 408 for a client
/// that sent too slowly, 400 for a broken gzip stream or a dropped connection.
pub fn read_error(error: &io::Error, limit: u64) -> AppError {
    if caused_by::<TooLarge>(error) {
        AppError::too_large(limit)
    } else if caused_by::<TooSlow>(error) {
        too_slow()
    } else {
        AppError::bad_request("bad-body", format!("the request body could not be read: {error}"))
    }
}

/// Fails with [`TooLarge`] once more than `limit` bytes have been read.
struct Limited<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Read one byte past the limit, so that a body of exactly the limit is accepted.
        let max = buf.len().min(usize::try_from(self.remaining.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n as u64 > self.remaining {
            return Err(io::Error::other(TooLarge));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The blocking end of the body channel.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, io::Error>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

/// A request body on its way to a blocking thread. Turn it into a reader there, with
/// [`Upload::into_reader`]: a gzip decoder reads its header as soon as it is made.
pub struct Upload {
    raw: Limited<ChannelReader>,
    gzip: bool,
    limit: u64,
    /// The declared `Content-Length`, within the limit.
    declared: Option<u64>,
}

impl Upload {
    /// The size of the decoded body, when the request declares it: its `Content-Length`, unless
    /// the body is compressed. Only a hint for sizing; the reader enforces the real length.
    pub fn size(&self) -> Option<u64> {
        self.declared.filter(|_| !self.gzip)
    }

    /// The decoded bytes of the body, capped at the limit. Call this on a blocking thread.
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        if self.gzip {
            Box::new(Limited { inner: flate2::read::MultiGzDecoder::new(self.raw), remaining: self.limit })
        } else {
            Box::new(self.raw)
        }
    }
}

/// The body's length as the request declares it (`Content-Length`), if it does and it is a number.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Starts reading `body`. Must be called on the async side; the [`Upload`] is then moved to a
/// blocking thread. Refuses unknown encodings (415); a declared length over the limit was already
/// refused by the router (`routes::JsonApi`).
pub fn upload(body: Body, headers: &HeaderMap, limit: u64) -> Result<Upload, AppError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let gzip = match encoding.as_str() {
        "" | "identity" => false,
        "gzip" | "x-gzip" => true,
        other => {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-encoding",
                format!("Content-Encoding `{other}` is not supported; send the body as is or gzip-compressed"),
            ));
        }
    };
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut forwarding = true;
        let mut drained = 0u64;
        while let Some(frame) = stream.next().await {
            if forwarding {
                let failed = frame.is_err();
                if tx.send(frame.map_err(io::Error::other)).await.is_err() {
                    // The reader stopped early (an error, or the limit after decompression).
                    // Reading the rest, up to the limit, lets the client see the answer instead
                    // of a reset connection.
                    forwarding = false;
                } else if failed {
                    break;
                }
            } else {
                match frame {
                    Ok(bytes) => {
                        drained += bytes.len() as u64;
                        if drained > limit {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    });
    let declared = declared_length(headers).filter(|&n| n <= limit);
    let raw = Limited { inner: ChannelReader { rx, current: Bytes::new() }, remaining: limit };
    Ok(Upload { raw, gzip, limit, declared })
}

/// How patient the server is with a client that sends a request body.
///
/// Only the time spent waiting for the client counts: while the validator is busy and the
/// server is not reading, a slow import does not make the client look slow.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// The longest wait for the next bytes of a body; also the grace period before
    /// `min_bytes_per_second` applies.
    pub idle: Duration,
    /// The slowest average rate, over the time spent waiting, once that time exceeds `idle`.
    pub min_bytes_per_second: u64,
}

/// `body`, cut off with a [`TooSlow`] error when the client breaks the [`Pace`]. This is what
/// stops a slowloris that trickles a body to hold a connection open.
pub fn paced(body: Body, pace: Pace) -> Body {
    Body::from_stream(PacedStream {
        inner: body.into_data_stream(),
        pace,
        timer: Box::pin(tokio::time::sleep(pace.idle)),
        waiting_since: None,
        waited: Duration::ZERO,
        bytes: 0,
        failed: false,
    })
}

/// The stream behind [`paced`].
struct PacedStream {
    inner: axum::body::BodyDataStream,
    pace: Pace,
    /// Fires `pace.idle` after the current wait began.
    timer: Pin<Box<Sleep>>,
    /// When the current wait for the client began, if the server is waiting.
    waiting_since: Option<Instant>,
    /// The time spent waiting for the client so far, excluding the current wait.
    waited: Duration,
    bytes: u64,
    failed: bool,
}

impl PacedStream {
    fn too_slow(&self) -> bool {
        self.waited > self.pace.idle
            && (self.bytes as f64) < self.pace.min_bytes_per_second as f64 * self.waited.as_secs_f64()
    }

    fn fail(&mut self) -> Poll<Option<io::Result<Bytes>>> {
        self.failed = true;
        Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::TimedOut, TooSlow))))
    }
}

impl Stream for PacedStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match this.inner.poll_next_unpin(cx) {
            Poll::Ready(item) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                if let Some(Ok(bytes)) = &item {
                    this.bytes += bytes.len() as u64;
                    if this.too_slow() {
                        return this.fail();
                    }
                }
                Poll::Ready(item.map(|frame| frame.map_err(io::Error::other)))
            }
            Poll::Pending => {
                if this.waiting_since.is_none() {
                    let now = Instant::now();
                    this.waiting_since = Some(now);
                    this.timer.as_mut().reset(now + this.pace.idle);
                }
                if this.timer.as_mut().poll(cx).is_ready() {
                    return this.fail();
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_accepts_exactly_the_limit_and_refuses_one_more() {
        let mut ok = Limited { inner: &b"12345"[..], remaining: 5 };
        let mut out = Vec::new();
        assert_eq!(ok.read_to_end(&mut out).unwrap(), 5);
        let mut over = Limited { inner: &b"123456"[..], remaining: 5 };
        let error = over.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(error.get_ref().unwrap().is::<TooLarge>());
    }

    #[test]
    fn a_slow_body_is_recognised_through_the_wrappers_it_reaches_the_reader_in() {
        // As the upload pump sees it: io::Error(axum::Error(io::Error(TooSlow))).
        let slow = io::Error::new(io::ErrorKind::TimedOut, TooSlow);
        let wrapped = io::Error::other(axum::Error::new(slow));
        assert!(caused_by::<TooSlow>(&wrapped));
        assert!(!caused_by::<TooLarge>(&wrapped));
        assert!(!caused_by::<TooSlow>(&io::Error::other("connection reset")));
        let limited = io::Error::other(TooLarge);
        assert!(caused_by::<TooLarge>(&limited));
    }
}
