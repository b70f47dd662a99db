// One measurement in Node: `node node_bench.mjs TOOL FILE` prints one JSON line
// {records, seconds, ...}. `seconds` is timed inside the process, from the first byte read to the
// last record, so Node's start-up is left out (the driver measures peak RSS of the whole process).
//
// Tools: dirgate-wasm (www/pkg, fed from a file stream as the browser feeds it), csv-parse (stream
// API), papaparse (stream, `chunk`), ldif (the npm package: it parses a whole string only).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const require = createRequire(import.meta.url);
const [tool, file] = process.argv.slice(2);
const format = file.endsWith('.ldif') ? 'ldif' : 'csv';
const CHUNK = 256 * 1024;

function done(records, started, extra = {}) {
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ records, seconds, ...extra }) + '\n');
}

async function dirgateWasm() {
  const pkg = path.join(root, 'www/pkg');
  const { default: init, Validator } = await import(path.join(pkg, 'dirgate_wasm.js'));
  const wasm = await init({ module_or_path: fs.readFileSync(path.join(pkg, 'dirgate_wasm_bg.wasm')) });
  const started = performance.now();
  const validator = new Validator({ format, managedDomains: [], previewLimit: 100 });
  validator.beginFile(path.basename(file), fs.statSync(file).size);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK })) {
    validator.feed(chunk);
  }
  const result = validator.finish();
  const c = result.report.counts;
  done(c.recipients + c.aliases + c.groups + c.skipped, started, {
    counts: c, peakWasmBytes: wasm.memory.buffer.byteLength,
  });
}

async function csvParse() {
  const { parse } = require('csv-parse');
  const started = performance.now();
  let records = 0;
  const parser = fs.createReadStream(file, { highWaterMark: CHUNK }).pipe(parse({ relax_column_count: true }));
  for await (const _ of parser) records++;
  done(records, started);
}

async function papaparse() {
  const Papa = require('papaparse');
  const started = performance.now();
  let records = 0;
  await new Promise((resolve, reject) => {
    Papa.parse(fs.createReadStream(file, { highWaterMark: CHUNK, encoding: 'utf8' }), {
      chunk: (results) => { records += results.data.length; },
      complete: resolve,
      error: reject,
    });
  });
  done(records, started);
}

async function ldifNpm() {
  const ldif = require('ldif');
  const started = performance.now();
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    done(null, started, { error: `cannot read: ${error.message}` });
    return;
  }
  const parsed = ldif.parse(text);
  done(parsed.entries ? parsed.entries.length : parsed.length, started);
}

const tools = { 'dirgate-wasm': dirgateWasm, 'csv-parse': csvParse, papaparse, ldif: ldifNpm };
if (!tools[tool]) {
  console.error(`unknown tool ${tool}; one of ${Object.keys(tools).join(', ')}`);
  process.exit(2);
}
await tools[tool]();
