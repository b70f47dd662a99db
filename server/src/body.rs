//! Large request bodies (imports and sync pushes), read as a blocking stream.
//!
//! The body is pumped from the async side into a bounded channel and read on a blocking thread,
//! where the validator and the JSON parser consume it chunk by chunk, so a raw 1 GB LDIF file
//! never sits in memory. `Content-Encoding: gzip` is decoded on the way. The size limit applies
//! to both the bytes received and the decompressed bytes, so a zip bomb is cut off at the limit
//! with a 413 and never exhausts memory.

use std::io::{self, Read};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use tokio::sync::mpsc;

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

/// Maps a read error of an upload to the answer it deserves: 413 past the limit, 400 for a
/// broken gzip stream or a dropped connection.
pub fn read_error(error: &io::Error, limit: u64) -> AppError {
    if error.get_ref().is_some_and(|inner| inner.is::<TooLarge>()) {
        AppError::too_large(limit)
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
}

impl Upload {
    /// The decoded bytes of the body, capped at the limit. Call this on a blocking thread.
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        if self.gzip {
            Box::new(Limited { inner: flate2::read::MultiGzDecoder::new(self.raw), remaining: self.limit })
        } else {
            Box::new(self.raw)
        }
    }
}

/// Starts reading `body`. Must be called on the async side; the [`Upload`] is then moved to a
/// blocking thread. Refuses unknown encodings (415); a declared length over the limit was already
/// refused by the router (`routes::refuse_declared_oversize`).
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
    let raw = Limited { inner: ChannelReader { rx, current: Bytes::new() }, remaining: limit };
    Ok(Upload { raw, gzip, limit })
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
}
