//! Imports: receive a directory (normalised JSON from the browser or the agent, or a raw LDIF or
//! CSV file), re-validate it with the core, and apply it per domain. Also the history and
//! rollback. The sync route reuses [`receive`] and [`apply`].

use std::io::{BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dirgate_core::{Alias, Code, Directory, FormatChoice, Group, Options, Recipient, Report, Severity, Validator};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::blocking;
use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::body::{self, Upload};
use crate::error::{AppError, Json, Query, Result};
use crate::store::{
    Agent, Applied, ApplyOptions, Change, ChangeKind, ChangeResult, FileMeta, Incoming, RolledBack, Store,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/imports", post(create).get(list))
        .route("/imports/{id}", get(one))
        .route("/imports/{id}/rollback", post(rollback))
}

/// How a raw body's format is chosen.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatParam {
    /// Detect it.
    #[default]
    Auto,
    /// LDIF.
    Ldif,
    /// CSV.
    Csv,
}

/// The query flags of an import or sync push.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ImportQuery {
    /// Return the per-domain diff and store nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Pass the deletion threshold.
    #[serde(default)]
    pub force: bool,
    /// Import only the valid records when there are errors.
    #[serde(default)]
    pub skip_invalid: bool,
    /// The format of a raw body.
    #[serde(default)]
    pub format: FormatParam,
    /// The file name of a raw body.
    pub name: Option<String>,
    /// The description of a raw import.
    pub description: Option<String>,
}

/// The JSON body: the normalised directory and what the uploader knows about its files.
#[derive(Deserialize)]
struct NormalisedBody {
    #[serde(default)]
    recipients: Vec<Recipient>,
    #[serde(default)]
    aliases: Vec<Alias>,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    files: Vec<FileMeta>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    agent: Option<Agent>,
    #[serde(default)]
    source: Option<String>,
}

/// A body after the core has re-validated it.
pub struct Received {
    /// What the core found.
    pub report: Report,
    /// The valid records.
    pub directory: Directory,
    /// The files, as described or measured.
    pub files: Vec<FileMeta>,
    /// What the uploader typed.
    pub description: String,
    /// For sync pushes: the agent.
    pub agent: Option<Agent>,
    /// For sync pushes: the source.
    pub source: Option<String>,
    /// `ldif`, `csv`, `mixed`.
    pub format: String,
    /// The first file's encoding.
    pub encoding: Option<String>,
}

/// The bytes of a raw file are fed to the validator in chunks of this size.
const CHUNK_BYTES: usize = 256 * 1024;

/// The media type, read lossily: a stray non-ASCII byte (in a charset or a boundary) must not
/// turn a JSON or multipart body into a raw file.
fn content_type(headers: &HeaderMap) -> String {
    let value = headers.get(header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()));
    value.as_deref().unwrap_or("").trim().to_ascii_lowercase()
}

fn is_json(headers: &HeaderMap) -> bool {
    content_type(headers).starts_with("application/json")
}

/// The boundary of a `multipart/form-data` body, which is read without `Content-Encoding`.
fn multipart_boundary(headers: &HeaderMap) -> Result<Option<String>> {
    if !content_type(headers).starts_with("multipart/form-data") {
        return Ok(None);
    }
    if headers.contains_key(header::CONTENT_ENCODING) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-encoding",
            "a multipart body cannot be Content-Encoded; compress the files' JSON form instead",
        ));
    }
    let raw = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    multer::parse_boundary(raw)
        .map(Some)
        .map_err(|e| AppError::bad_request("bad-multipart", format!("bad multipart Content-Type: {e}")))
}

/// Where the records of a body come from.
enum Source {
    Json(Upload),
    Raw(Upload),
    Multipart(mpsc::Receiver<Result<Piece>>),
}

/// One step of reading raw files: a new file begins (with its size, when the request says it),
/// or the next bytes of the current one.
enum Piece {
    File(String, Option<u64>),
    Data(Bytes),
    Description(String),
}

/// Validates raw files, given as a sequence of pieces, as one import.
fn validate_files(options: Options, mut next: impl FnMut() -> Result<Option<Piece>>) -> Result<Received> {
    let mut validator = Validator::new(options);
    let mut files: Vec<FileMeta> = Vec::new();
    let mut hasher: Option<Sha256> = None;
    let mut description = String::new();
    let finish_file = |files: &mut Vec<FileMeta>, hasher: &mut Option<Sha256>| {
        if let (Some(h), Some(file)) = (hasher.take(), files.last_mut()) {
            file.sha256 = Some(crate::auth::hex(&h.finalize()));
        }
    };
    while let Some(piece) = next()? {
        match piece {
            Piece::File(name, size) => {
                finish_file(&mut files, &mut hasher);
                validator.begin_file(name.clone());
                if let Some(size) = size {
                    validator.expect_size(size);
                }
                files.push(FileMeta { name, ..FileMeta::default() });
                hasher = Some(Sha256::new());
            }
            Piece::Data(bytes) => {
                let (Some(file), Some(h)) = (files.last_mut(), hasher.as_mut()) else { continue };
                file.size += bytes.len() as u64;
                h.update(&bytes);
                validator.feed(&bytes);
            }
            Piece::Description(text) => description = text,
        }
    }
    finish_file(&mut files, &mut hasher);
    let outcome = validator.finish();
    for (meta, report) in files.iter_mut().zip(&outcome.report.files) {
        meta.format = Some(report.format.to_string());
        meta.encoding = Some(report.encoding.as_str().to_owned());
    }
    Ok(Received {
        format: outcome.report.format.to_string(),
        encoding: Some(outcome.report.encoding.as_str().to_owned()),
        report: outcome.report,
        directory: outcome.directory,
        files,
        description,
        agent: None,
        source: None,
    })
}

/// One raw body is one file.
fn validate_raw(upload: Upload, limit: u64, options: Options, name: String) -> Result<Received> {
    let mut file = Some(Piece::File(name, upload.size()));
    let mut upload = upload.into_reader();
    let mut buffer = vec![0u8; CHUNK_BYTES];
    validate_files(options, move || {
        if let Some(file) = file.take() {
            return Ok(Some(file));
        }
        loop {
            return match upload.read(&mut buffer) {
                Ok(0) => Ok(None),
                Ok(n) => Ok(Some(Piece::Data(Bytes::copy_from_slice(&buffer[..n])))),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(body::read_error(&e, limit)),
            };
        }
    })
}

/// A `multipart/form-data` body: every part with a file name is a file of the import, and a
/// part named `description` is the description. Parts are pumped to the blocking validator
/// as they arrive; the limit applies to the whole body. A body that cannot be read is answered
/// with how much of it arrived, against its declared length, so that a cut-off body shows.
fn pump_multipart(body: Body, declared: Option<u64>, boundary: String, limit: u64) -> mpsc::Receiver<Result<Piece>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let received = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&received);
        let stream = body.into_data_stream().inspect(move |frame| {
            if let Ok(bytes) = frame {
                counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
        });
        let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limit));
        let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
        let fail = |e: multer::Error| match e {
            multer::Error::StreamSizeExceeded { .. } => AppError::too_large(limit),
            other => {
                let received = received.load(Ordering::Relaxed);
                let of = declared.map(|n| format!(" of {n}")).unwrap_or_default();
                AppError::bad_request(
                    "bad-multipart",
                    format!("the multipart body could not be read after {received}{of} bytes: {other}"),
                )
            }
        };
        loop {
            let mut field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(Err(fail(e))).await;
                    return;
                }
            };
            let name = match (field.file_name(), field.name()) {
                (Some(file), _) => file.to_owned(),
                (None, Some("description")) => {
                    let text = field.text().await.unwrap_or_default();
                    let _ = tx.send(Ok(Piece::Description(text))).await;
                    continue;
                }
                _ => continue,
            };
            if tx.send(Ok(Piece::File(name, None))).await.is_err() {
                return;
            }
            loop {
                match field.chunk().await {
                    Ok(Some(bytes)) => {
                        if tx.send(Ok(Piece::Data(bytes))).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(fail(e))).await;
                        return;
                    }
                }
            }
        }
    });
    rx
}

fn validate_normalised(upload: Upload, limit: u64, options: Options) -> Result<Received> {
    decode_import_json(BufReader::with_capacity(CHUNK_BYTES, upload.into_reader()), options).map_err(|e| {
        if e.is_io() {
            body::read_error(&std::io::Error::from(e), limit)
        } else {
            AppError::bad_request(
                "bad-json",
                format!("the body is not a normalised directory: {e} (line {}, column {})", e.line(), e.column()),
            )
        }
    })
}

/// Decodes a normalised JSON body (what the browser and the sync agent send) and re-validates
/// it with the core. Public so that `server/fuzz` fuzzes the route's own decoder.
pub fn decode_import_json(body: impl Read, options: Options) -> serde_json::Result<Received> {
    let body: NormalisedBody = serde_json::from_reader(body)?;
    let directory = Directory::from_records(&body.recipients, &body.aliases, &body.groups);
    let name = match body.files.as_slice() {
        [] => "directory".to_owned(),
        files => files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
    };
    let mut validator = Validator::new(options);
    validator.add_directory(name, &directory);
    let outcome = validator.finish();
    let formats: Vec<&str> = body.files.iter().filter_map(|f| f.format.as_deref()).collect();
    let format = match formats.first() {
        None => "normalised".to_owned(),
        Some(first) if formats.iter().all(|f| f == first) => (*first).to_owned(),
        Some(_) => "mixed".to_owned(),
    };
    Ok(Received {
        report: outcome.report,
        directory: outcome.directory,
        encoding: body.files.first().and_then(|f| f.encoding.clone()),
        files: body.files,
        description: body.description,
        agent: body.agent,
        source: body.source,
        format,
    })
}

/// Reads and re-validates an import or sync body against the tenant's managed domains.
pub async fn receive(
    state: &AppState,
    tenant: u64,
    headers: &HeaderMap,
    body: Body,
    query: &ImportQuery,
) -> Result<Received> {
    let limit = state.config.max_upload_bytes;
    let source = match multipart_boundary(headers)? {
        Some(boundary) => Source::Multipart(pump_multipart(body, body::declared_length(headers), boundary, limit)),
        None if is_json(headers) => Source::Json(body::upload(body, headers, limit)?),
        None => Source::Raw(body::upload(body, headers, limit)?),
    };
    let store = state.store.clone();
    let query = query.clone();
    tokio::task::spawn_blocking(move || {
        let domains: Vec<String> = store.tenant_domains(tenant)?.into_iter().map(|(d, _)| d).collect();
        if domains.is_empty() {
            return Err(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no-managed-domains",
                "this tenant manages no domain yet; add its domains before importing",
            ));
        }
        let format = match query.format {
            FormatParam::Auto => FormatChoice::Auto,
            FormatParam::Ldif => FormatChoice::Ldif,
            FormatParam::Csv => FormatChoice::Csv,
        };
        let options = Options { format, managed_domains: domains, ..Options::default() };
        let mut received = match source {
            Source::Json(upload) => validate_normalised(upload, limit, options)?,
            Source::Raw(upload) => {
                let name = query.name.clone().unwrap_or_else(|| "upload".to_owned());
                validate_raw(upload, limit, options, name)?
            }
            Source::Multipart(mut rx) => validate_files(options, move || rx.blocking_recv().transpose())?,
        };
        if let Some(description) = query.description {
            received.description = description;
        }
        Ok(received)
    })
    .await?
}

/// How many error diagnostics a report holds, beyond the cap included.
fn error_total(report: &Report) -> u64 {
    report
        .diagnostic_totals
        .iter()
        .filter(|(code, _)| Code::from_name(code).is_some_and(|c| c.severity() == Severity::Error))
        .map(|(_, n)| n)
        .sum()
}

/// Why a received body cannot be applied as asked, if it cannot.
pub fn refusal(received: &Received, skip_invalid: bool) -> Option<AppError> {
    let report = &received.report;
    if !report.valid && !skip_invalid {
        let errors = error_total(report);
        return Some(
            AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-directory",
                format!(
                    "the directory has {errors} error(s); fix the file, or import only the valid records with skip_invalid=true"
                ),
            )
            .with("diagnostics", &report.diagnostics)
            .with("diagnostic_totals", &report.diagnostic_totals)
            .with("report", report),
        );
    }
    let d = &received.directory;
    if d.is_empty() {
        return Some(
            AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "nothing-to-import",
                "no record of the import lies in this tenant's managed domains",
            )
            .with("report", report),
        );
    }
    None
}

/// Fills in what a change records about the body it came from.
pub fn describe(change: &mut Change, received: &Received) {
    change.description = received.description.clone();
    change.files = received.files.clone();
    change.format = Some(received.format.clone());
    change.encoding = received.encoding.clone();
    if change.kind == ChangeKind::Sync
        && let Some(source) = &received.source
    {
        change.source = Some(source.clone());
    }
    if change.kind == ChangeKind::Sync
        && let Some(agent) = &received.agent
    {
        let ip = change.agent.as_ref().and_then(|a| a.ip.clone());
        change.agent = Some(Agent { ip, ..agent.clone() });
    }
    change.skipped_invalid = if received.report.valid { 0 } else { error_total(&received.report) };
}

/// Applies a validated directory as `change` with the tenant's threshold (and, for imports,
/// its daily limit).
pub async fn apply(
    store: &Store,
    change: Change,
    directory: Directory,
    query: &ImportQuery,
    rate_limited: bool,
) -> Result<Applied> {
    let (dry_run, force) = (query.dry_run, query.force);
    blocking(store, move |s| {
        let settings = s.tenant(change.tenant)?.map(|t| t.settings).unwrap_or_default();
        let options = ApplyOptions {
            dry_run,
            force,
            threshold_percent: settings.deletion_threshold_percent,
            daily_limit: rate_limited.then_some(settings.daily_import_limit),
        };
        let incoming = Incoming::from_directory(&directory);
        s.apply(change, &incoming, options)
    })
    .await
}

/// The response for each outcome of [`apply`].
pub fn respond(applied: Applied, report: &Report) -> Result<Response> {
    match applied {
        Applied::Committed(entry) => {
            let mut value = serde_json::to_value(&entry).map_err(AppError::internal)?;
            if let Value::Object(map) = &mut value {
                map.insert("report".to_owned(), serde_json::to_value(report).map_err(AppError::internal)?);
            }
            Ok((StatusCode::CREATED, Json(value)).into_response())
        }
        Applied::DryRun(domains) => {
            let exceeded = domains.iter().any(|d| d.threshold_exceeded);
            Ok(Json(json!({ "dry_run": true, "threshold_exceeded": exceeded, "domains": domains, "report": report }))
                .into_response())
        }
        Applied::ThresholdExceeded(domains) => {
            let names: Vec<&str> = domains
                .iter()
                .filter(|d| d.threshold_exceeded)
                .map(|d| d.domain.as_deref().unwrap_or("(groups without address)"))
                .collect();
            Err(AppError::new(
                StatusCode::CONFLICT,
                "deletion-threshold-exceeded",
                format!(
                    "this would remove more addresses than the deletion threshold allows in {}; check the diff, then repeat with force=true to confirm",
                    names.join(", ")
                ),
            )
            .with("diff", json!({ "domains": domains })))
        }
        Applied::DailyLimit { limit, retry_after_seconds } => Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "daily-import-limit",
            format!("this tenant has made its {limit} imports of the last 24 hours; try again later"),
        )
        .retry_after(retry_after_seconds)),
    }
}

async fn create(
    State(state): State<AppState>,
    who: TenantPrincipal,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let received = receive(&state, who.tenant, &headers, body, &query).await?;
    if let Some(error) = refusal(&received, query.skip_invalid) {
        return Err(error);
    }
    let mut change = Change::new(who.tenant, ChangeKind::Import, &who.principal.name());
    describe(&mut change, &received);
    let Received { report, directory, .. } = received;
    let applied = apply(&state.store, change, directory, &query, true).await?;
    respond(applied, &report)
}

async fn list(State(state): State<AppState>, who: TenantPrincipal) -> Result<Json<Value>> {
    let kinds = [ChangeKind::Import, ChangeKind::Rollback, ChangeKind::DomainRemoval];
    let entries = blocking(&state.store, move |s| s.history(who.tenant, &kinds)).await?;
    Ok(Json(json!({ "imports": entries })))
}

async fn one(State(state): State<AppState>, who: TenantPrincipal, Path(id): Path<u64>) -> Result<Json<Value>> {
    let entry = blocking(&state.store, move |s| s.history_entry(who.tenant, id)).await?;
    let entry = entry.ok_or_else(|| AppError::not_found("import"))?;
    Ok(Json(serde_json::to_value(entry).map_err(AppError::internal)?))
}

async fn rollback(
    State(state): State<AppState>,
    who: TenantPrincipal,
    Path(id): Path<u64>,
) -> Result<(StatusCode, Json<Value>)> {
    let by = who.principal.name();
    let outcome = blocking(&state.store, move |s| s.rollback(who.tenant, id, &by)).await?;
    match outcome {
        RolledBack::Done(entry) => {
            Ok((StatusCode::CREATED, Json(serde_json::to_value(entry).map_err(AppError::internal)?)))
        }
        RolledBack::NotFound => Err(AppError::not_found("import")),
        RolledBack::Refused(reason) => Err(AppError::new(StatusCode::CONFLICT, "rollback-refused", reason)),
    }
}

/// Records a refused sync push in the history, so that the Synchronize tab shows it.
pub async fn record_refused(store: &Store, mut change: Change, result: ChangeResult, message: String) -> Result<()> {
    change.result = result;
    change.message = Some(message);
    change.snapshot = false;
    blocking(store, move |s| s.record_refused(change).map(|_| ())).await
}
