// One measurement in headless Chromium: `node browser_bench.mjs TOOL FILE` prints one JSON line.
//
// Each call starts a fresh Chromium (Debian's, through tests/e2e's playwright-core), serves www/
// and Papa Parse from a local HTTP server, and hands FILE to an <input type=file> as a user would,
// so the page reads a real disk-backed File. Tools:
// - dirgate-wasm: www/worker.js itself (the UI's worker), fed from File.stream(); full validation;
// - papaparse: main thread, `await file.text()` first (not timed), then Papa.parse(string, {step});
// - papaparse-worker: Papa.parse(file, {worker: true, step}).
// Reported: `seconds` (timed in the page), `peakRendererBytes` (VmHWM of the renderer process that
// runs the page and its workers: JS heaps, wasm memory and Blink), `peakJsHeapBytes` (the page's
// JS heap, sampled with CDP Performance.getMetrics), `peakWasmBytes` (from worker.js) and
// `maxStallMs`, the longest gap of a 20 ms timer on the page's main thread while it ran.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const require = createRequire(path.join(root, 'tests/e2e/package.json'));
const { chromium } = require('playwright-core');
const [tool, file] = process.argv.slice(2);
const format = file.endsWith('.ldif') ? 'ldif' : 'csv';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-precise-memory-info'];
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

const PAGE = `<!doctype html><meta charset="utf-8"><input type="file" id="f">
<script src="/papaparse.min.js"></script>
<script>
window.stall = { max: 0, last: performance.now() };
setInterval(() => { const now = performance.now(); stall.max = Math.max(stall.max, now - stall.last); stall.last = now; }, 20);
window.run = async (tool, format) => {
  const file = document.getElementById('f').files[0];
  if (tool === 'dirgate-wasm') {
    const worker = new Worker('/www/worker.js', { type: 'module' });
    const started = performance.now();
    stall.max = 0; stall.last = started;
    const result = await new Promise((resolve, reject) => {
      worker.onmessage = (e) => { if (e.data.type === 'done') resolve(e.data.result); else if (e.data.type === 'failed') reject(new Error(e.data.message)); };
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage({ files: [file], options: { format, managedDomains: [], previewLimit: 100 } });
    });
    const seconds = (performance.now() - started) / 1000;
    worker.terminate();
    const c = result.report.counts;
    return { seconds, workerSeconds: result.seconds, records: c.recipients + c.aliases + c.groups + c.skipped, counts: c, peakWasmBytes: result.peakWasmBytes, maxStallMs: stall.max };
  }
  if (tool === 'papaparse') {
    let text = await file.text();
    let records = 0;
    const started = performance.now();
    Papa.parse(text, { step: () => { records++; } });
    const seconds = (performance.now() - started) / 1000;
    text = null;
    return { seconds, records, maxStallMs: null };
  }
  if (tool === 'papaparse-worker') {
    let records = 0;
    const started = performance.now();
    stall.max = 0; stall.last = started;
    await new Promise((resolve, reject) => Papa.parse(file, { worker: true, step: () => { records++; }, complete: resolve, error: reject }));
    return { seconds: (performance.now() - started) / 1000, records, maxStallMs: stall.max };
  }
  throw new Error('unknown tool ' + tool);
};
</script>`;

function serve() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x').pathname;
    let target;
    if (url === '/') { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(PAGE); return; }
    if (url === '/papaparse.min.js') target = path.join(here, 'node_modules/papaparse/papaparse.min.js');
    else if (url.startsWith('/www/')) target = path.join(root, path.normalize(url));
    if (!target || !target.startsWith(root) || !fs.existsSync(target)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(target)] || 'application/octet-stream' });
    fs.createReadStream(target).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Chromium's renderer processes below this Node process, and their peak RSS (VmHWM). */
function rendererPeaks() {
  const children = new Map();
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(pid));
    } catch { /* gone */ }
  }
  const peaks = [];
  const walk = (pid) => {
    for (const child of children.get(pid) || []) {
      try {
        const cmd = fs.readFileSync(`/proc/${child}/cmdline`, 'utf8');
        if (cmd.includes('--type=renderer')) {
          const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child}/status`, 'utf8'));
          if (hwm) peaks.push(Number(hwm[1]) * 1024);
        }
      } catch { /* gone */ }
      walk(child);
    }
  };
  walk(process.pid);
  return peaks;
}

const server = await serve();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`page: ${m.text()}\n`); });
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.setInputFiles('#f', file);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  let peakJsHeapBytes = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        const { metrics } = await cdp.send('Performance.getMetrics');
        const heap = metrics.find((m) => m.name === 'JSHeapTotalSize');
        if (heap) peakJsHeapBytes = Math.max(peakJsHeapBytes, heap.value);
      } catch { /* page busy or closing */ }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const result = await page.evaluate(([t, f]) => window.run(t, f), [tool, format]);
  sampling = false;
  await sampler;
  const peaks = rendererPeaks();
  process.stdout.write(JSON.stringify({ ...result, peakRendererBytes: Math.max(0, ...peaks), peakJsHeapBytes }) + '\n');
} finally {
  await browser.close();
  server.close();
}
