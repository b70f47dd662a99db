// The JSON the UI reads and sends, mirroring the server's DTOs (server/src/routes/*.rs,
// server/src/store/*.rs and the core's Report in wasm/core). Timestamps are RFC 3339 strings.

/** `{"error":{"code","message"}}`, plus extra fields on some errors. */
export interface ErrorBody {
  error: { code: string; message: string };
  /** 422 invalid-directory: the kept diagnostics. */
  diagnostics?: Diagnostic[];
  diagnostic_totals?: Record<string, number>;
  /** 422 invalid-directory and nothing-to-import: the whole report. */
  report?: Report;
  /** 409 deletion-threshold-exceeded: what the import would do. */
  diff?: { domains: DomainDiff[] };
  /** 409 domain-has-records: how many addresses the domain still holds. */
  records?: number;
}

export type Role = 'operator' | 'admin' | 'key';

export interface TenantSettings {
  deletion_threshold_percent: number;
  daily_import_limit: number;
}

export interface Tenant {
  id: number;
  name: string;
  domains: string[];
  settings: TenantSettings;
  created_at: string;
}

/** GET/POST /session. */
export interface SessionInfo {
  user: { username: string; role: Role };
  tenant: Tenant | null;
}

/** GET /tenants. */
export interface TenantList {
  tenants: Tenant[];
}

/** POST /tenants/{id}/users. */
export interface CreatedUser {
  username: string;
  role: 'admin';
  tenant: number;
}

/** POST /tenants/{id}/keys and POST /keys: `key` is shown once. */
export interface CreatedKey {
  id: string;
  key: string;
  name: string;
  tenant: number;
}

/** GET /keys. */
export interface ApiKeyView {
  id: string;
  name: string;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
}

export interface StoredCounts {
  recipients: number;
  aliases: number;
  groups: number;
}

/** GET /domains. */
export interface DomainView extends StoredCounts {
  domain: string;
  recipient_check: boolean;
  added_at: string;
}

/** GET /stats. */
export interface Stats {
  domains: (StoredCounts & { domain: string; recipient_check: boolean })[];
  groups_without_address: number;
  totals: StoredCounts;
}

export type Severity = 'error' | 'warning' | 'info';
export type Format = 'ldif' | 'csv' | 'mixed';
export type ImportFormat = 'auto' | 'ldif' | 'csv';
export type Encoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

export interface Diagnostic {
  severity: Severity;
  code: string;
  file: string;
  line: number;
  column: number | null;
  message: string;
}

export interface FileReport {
  name: string;
  format: Format;
  encoding: Encoding;
  bom: boolean;
  bytes: number;
  lines: number;
  records: number;
}

export interface Report {
  format: Format;
  encoding: Encoding;
  bom: boolean;
  valid: boolean;
  counts: StoredCounts & { skipped: number; unmanaged: number };
  domains: (StoredCounts & { domain: string })[];
  diagnostics: Diagnostic[];
  diagnostic_totals: Record<string, number>;
  files: FileReport[];
}

export interface Delta {
  added: number;
  removed: number;
  kept: number;
}

export interface Sample {
  count: number;
  samples: string[];
}

export interface DomainDiff {
  /** `null` for the tenant's groups without an address. */
  domain: string | null;
  before: number;
  after: number;
  added: Sample;
  removed: Sample;
  kept: Sample;
  recipients: Delta;
  aliases: Delta;
  groups: Delta;
  threshold_exceeded: boolean;
}

/** POST /imports?dry_run=true. */
export interface DryRunResponse {
  dry_run: true;
  threshold_exceeded: boolean;
  domains: DomainDiff[];
  report: Report;
}

export type ChangeKind = 'import' | 'sync' | 'rollback' | 'domain-removal';
export type ChangeResult = 'applied' | 'threshold-exceeded' | 'invalid';
export type ChangeStatus = 'in-effect' | 'superseded' | 'rolled-back' | 'not-applied';

export interface FileMeta {
  name: string;
  size: number;
  sha256: string | null;
  format: string | null;
  encoding: string | null;
}

export interface Agent {
  host: string;
  version: string;
  ip: string | null;
}

/** One change of the log, with its status (GET /imports, GET /sync/history). */
export interface HistoryEntry {
  id: number;
  tenant: number;
  kind: ChangeKind;
  created_at: string;
  created_by: string;
  description: string;
  files: FileMeta[];
  format: string | null;
  encoding: string | null;
  domains: DomainDiff[];
  submitted: StoredCounts;
  skipped_invalid: number;
  forced: boolean;
  result: ChangeResult;
  message: string | null;
  rollback_of: number | null;
  rolled_back_by: number | null;
  snapshot: boolean;
  source: string | null;
  agent: Agent | null;
  status: ChangeStatus;
  rollback_available: boolean;
}

/** POST /imports (applied): the new history entry and the report. */
export type ImportedResponse = HistoryEntry & { report: Report };

/** GET /imports. */
export interface ImportList {
  imports: HistoryEntry[];
}

/** GET /sync/summary. */
export interface SyncSummary {
  totals: StoredCounts;
  sources: {
    source: string;
    last_run: string;
    result: ChangeResult;
    agent: Agent | null;
    counts: StoredCounts;
    last_applied: string | null;
  }[];
  runs: number;
}

/** GET /sync/history. */
export interface SyncHistory {
  runs: HistoryEntry[];
}

// In-browser validation (wasm/src/lib.rs, worker.js). Options are camelCase at this boundary;
// the report keeps the server's wire shape.

/** `new Validator(options)`. */
export interface ValidatorOptions {
  format: ImportFormat;
  managedDomains: string[];
  previewLimit: number;
}

export interface Recipient {
  address: string;
  name?: string;
}

export interface Alias {
  address: string;
  target: string;
}

export interface Group {
  name: string;
  dn?: string;
  address?: string;
  members: string[];
}

/** The first records of each kind. */
export interface Preview {
  recipients: Recipient[];
  aliases: Alias[];
  groups: Group[];
}

/** The message to the worker. */
export interface ValidateRequest {
  files: File[];
  options: ValidatorOptions;
}

/** What the page sends the worker for the files' SHA-256 digests. */
export interface DigestRequest {
  digest: File[];
}

/** Posted by the worker while it reads. */
export interface ValidationProgress {
  bytes: number;
  total: number;
  records: number;
  recordsPerSecond: number;
  seconds: number;
}

/** What the worker answers: `Validator.finish()` plus its measurements. */
export interface Validation {
  report: Report;
  preview: Preview;
  /** The normalised directory (valid records only), as UTF-8 JSON: one object whose last byte
   * is its closing brace. A `Blob`, so that the body is never held whole in the worker. */
  directory: Blob;
  seconds: number;
  bytes: number;
  peakWasmBytes: number;
}
