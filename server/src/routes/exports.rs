//! The three CSV exports: `recipients.csv`, `aliases.csv` and `groups.csv`.
//!
//! UTF-8 with a BOM (so that Excel reads it as UTF-8), CRLF, RFC 4180 quoting, and every cell
//! that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, TAB, CR) prefixed with `'`,
//! which the core strips again on re-import. Rows are streamed from a read transaction on a
//! blocking thread through a bounded channel, so memory does not depend on the directory's size.

use std::borrow::Cow;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dirgate_core::{Alias, Group, Recipient, guard_formula};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::blocking;
use super::domains::normalise_domain;
use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::{AppError, Query, Result};
use crate::store::{RecordKind, Store};

pub fn router() -> Router<AppState> {
    Router::new().route("/exports/{file}", get(export))
}

/// Bytes collected before a chunk is handed to the response.
const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
struct ExportQuery {
    domain: Option<String>,
}

/// The response end of the CSV writer: collects bytes and sends them in chunks.
struct ChannelSink {
    buffer: Vec<u8>,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
}

impl ChannelSink {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES + 1024));
        // A closed channel means the client went away: stop writing.
        self.tx.blocking_send(Ok(Bytes::from(chunk))).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
}

impl std::io::Write for ChannelSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Writes neutralised CSV rows down the channel.
struct ChunkWriter {
    csv: csv::Writer<ChannelSink>,
}

impl ChunkWriter {
    fn new(tx: mpsc::Sender<std::io::Result<Bytes>>, header: &[&str]) -> ChunkWriter {
        let mut buffer = Vec::with_capacity(CHUNK_BYTES + 1024);
        buffer.extend_from_slice("\u{feff}".as_bytes());
        let csv = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(ChannelSink { buffer, tx });
        let mut writer = ChunkWriter { csv };
        writer.row(header);
        writer
    }

    /// Writes one row; false once the client has gone.
    fn row(&mut self, cells: &[&str]) -> bool {
        let record: Vec<Cow<'_, str>> = cells.iter().map(|c| guard_formula(c)).collect();
        self.csv.write_record(record.iter().map(|c| c.as_bytes())).is_ok()
    }

    fn flush(&mut self) {
        let _ = self.csv.flush();
    }
}

/// Streams one export of a tenant into `tx`.
fn write_export(
    store: &Store,
    tenant: u64,
    kind: RecordKind,
    domain: Option<&str>,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
) -> crate::store::Result<()> {
    let header: &[&str] = match kind {
        RecordKind::Recipient => &["email", "name"],
        RecordKind::Alias => &["alias", "email"],
        RecordKind::Group => &["group", "email", "member"],
    };
    let mut out = ChunkWriter::new(tx.clone(), header);
    store.each_record(tenant, kind, domain, |value| match kind {
        RecordKind::Recipient => match serde_json::from_slice::<Recipient>(value) {
            Ok(r) => out.row(&[&r.address, r.name.as_deref().unwrap_or("")]),
            Err(_) => true,
        },
        RecordKind::Alias => match serde_json::from_slice::<Alias>(value) {
            Ok(a) => out.row(&[&a.address, &a.target]),
            Err(_) => true,
        },
        RecordKind::Group => match serde_json::from_slice::<Group>(value) {
            Ok(g) => {
                let address = g.address.as_deref().unwrap_or("");
                if g.members.is_empty() {
                    out.row(&[&g.name, address, ""])
                } else {
                    g.members.iter().all(|m| out.row(&[&g.name, address, m]))
                }
            }
            Err(_) => true,
        },
    })?;
    out.flush();
    Ok(())
}

async fn export(
    State(state): State<AppState>,
    who: TenantPrincipal,
    Path(file): Path<String>,
    Query(query): Query<ExportQuery>,
) -> Result<Response> {
    let kind = match file.as_str() {
        "recipients.csv" => RecordKind::Recipient,
        "aliases.csv" => RecordKind::Alias,
        "groups.csv" => RecordKind::Group,
        _ => return Err(AppError::not_found("export; the exports are recipients.csv, aliases.csv and groups.csv")),
    };
    let tenant = who.tenant;
    let domain = match &query.domain {
        Some(raw) => {
            let domain = normalise_domain(raw)?;
            let name = domain.clone();
            let owned =
                blocking(&state.store, move |s| Ok(s.domain(&name)?.is_some_and(|d| d.tenant == tenant))).await?;
            if !owned {
                return Err(AppError::not_found("domain"));
            }
            Some(domain)
        }
        None => None,
    };
    let filename = match &domain {
        Some(d) => format!("{}-{d}.csv", file.trim_end_matches(".csv")),
        None => file.clone(),
    };
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = write_export(&store, tenant, kind, domain.as_deref(), tx.clone()) {
            eprintln!("dirgate: export failed: {e}");
            // An error in the stream aborts the response, so that a client never mistakes a
            // truncated export for a whole one.
            let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
