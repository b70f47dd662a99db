#!/usr/bin/env python3
"""dirgate side by side with the parsers and tools a user would otherwise pick (issue 7).

    python3 tests/bench/peers.py [--csv-users 100000,1000000] [--ldif-users 100000,1000000] [--runs 3]

Generates the data with gen_data.py (CSV `users-N.csv`; LDIF `ad-N-lean.ldif`, the `ldifde`
export in the lean profile: 77 MB at 100k, 730 MB at 1M, the issue's "about 600 MB" file), runs
every tool on every file it applies to, --runs times each, one after the other on the same
machine, and prints ONE table: tool x file -> MB/s, records/s and peak memory (medians).
Then it prints the issue's goals as ratios taken from that same table.

- records = the file's records (CSV rows; LDIF entries, including OUs, computers and groups),
  from its .counts.json, so records/s is comparable across tools on one file;
- seconds: timed inside the tool's process where the tool reports it (Node, Python, Chromium:
  from the first byte read to the last record, runtime start-up left out); the whole process
  for native commands (dirgate check, wc, grep);
- peak memory: the process's peak RSS (wait4 ru_maxrss); in Chromium, the renderer process's
  VmHWM (page + workers: JS heaps, wasm memory and Blink itself);
- the csv crate's raw record loop (and the core called in-process) come from the criterion
  bench's summary (wasm/core/benches/validate.rs, median of 5 in-process, file in memory).

Needs: target/release/dirgate (`cargo build --release --bin dirgate`), www/pkg (`make wasm`),
tests/e2e/node_modules (playwright-core) and /usr/bin/chromium, tests/bench/peers/node_modules
(`npm ci` there), and the two Python LDIF parsers in target/bench-py/ (`make bench-peers` sets
all of this up). A tool that cannot run is reported as such in the table, with the reason;
--strict turns any such failure into exit status 1 (CI's smoke run uses it).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
PEERS = os.path.join(ROOT, "tests/bench/peers")
PYDIR = os.path.join(ROOT, "target/bench-py")
DIRGATE = os.path.join(ROOT, "target/release/dirgate")

# (tool, where, formats, command builder, extra environment). A builder returns argv.
TOOLS = [
    ("dirgate native (check --json)", "native", {"csv", "ldif"}, lambda f: [DIRGATE, "check", "--json", f], None),
    ("dirgate wasm, Chromium Worker", "chromium", {"csv", "ldif"},
     lambda f: ["node", os.path.join(PEERS, "browser_bench.mjs"), "dirgate-wasm", f], None),
    ("Papa Parse, Chromium main (string, step)", "chromium", {"csv"},
     lambda f: ["node", os.path.join(PEERS, "browser_bench.mjs"), "papaparse", f], None),
    ("Papa Parse, Chromium worker: true", "chromium", {"csv"},
     lambda f: ["node", os.path.join(PEERS, "browser_bench.mjs"), "papaparse-worker", f], None),
    ("dirgate wasm, Node", "node", {"csv", "ldif"},
     lambda f: ["node", os.path.join(PEERS, "node_bench.mjs"), "dirgate-wasm", f], None),
    ("csv-parse, Node (stream)", "node", {"csv"},
     lambda f: ["node", os.path.join(PEERS, "node_bench.mjs"), "csv-parse", f], None),
    ("Papa Parse, Node (stream, chunk)", "node", {"csv"},
     lambda f: ["node", os.path.join(PEERS, "node_bench.mjs"), "papaparse", f], None),
    ("Python csv.reader", "python", {"csv"},
     lambda f: [sys.executable, os.path.join(PEERS, "py_bench.py"), "csv", f], None),
    ("npm ldif (ldif.parse)", "node", {"ldif"},
     lambda f: ["node", "--max-old-space-size=16384", os.path.join(PEERS, "node_bench.mjs"), "ldif", f], None),
    ("PyPI ldif (LDIFParser)", "python", {"ldif"},
     lambda f: [sys.executable, os.path.join(PEERS, "py_bench.py"), "pypi-ldif", f],
     {"PYTHONPATH": os.path.join(PYDIR, "ldif")}),
    ("python-ldap ldif (LDIFParser)", "python", {"ldif"},
     lambda f: [sys.executable, os.path.join(PEERS, "py_bench.py"), "python-ldap", f],
     {"PYTHONPATH": os.path.join(PYDIR, "python-ldap")}),
    ("limit: wc -l", "native", {"csv", "ldif"}, lambda f: ["wc", "-l", f], None),
    ("limit: grep -c @", "native", {"csv", "ldif"}, lambda f: ["grep", "-c", "@", f], None),
]


def measure(argv, env_extra, timeout):
    """Runs argv once; returns {seconds, peak, result} or {error}."""
    env = dict(os.environ)
    if env_extra:
        env.update(env_extra)
    out_path = os.path.join(ROOT, "target", f".bench-peers-{os.getpid()}.out")
    err_path = out_path + ".err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                return {"error": f"timed out after {timeout}s"}
            time.sleep(0.005)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = open(out_path, encoding="utf-8", errors="replace").read()
    stderr = open(err_path, encoding="utf-8", errors="replace").read()
    os.unlink(out_path)
    os.unlink(err_path)
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and argv[0] != "grep"):
        tail = " | ".join(line for line in stderr.strip().splitlines()[-3:])
        return {"error": f"exit {proc.returncode}: {tail[-300:]}"}
    result = None
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if lines:
        result = json.loads(lines[-1])
        if result.get("error"):
            return {"error": result["error"]}
    seconds = wall
    if result and isinstance(result.get("seconds"), (int, float)):
        seconds = result["seconds"]
    peak = usage.ru_maxrss * 1024
    if result and result.get("peakRendererBytes"):
        peak = result["peakRendererBytes"]
    return {"seconds": seconds, "peak": peak, "result": result}


def criterion_limits(csv_files):
    """The csv crate's raw loop and the core in-process, from the criterion bench's summary."""
    data = os.path.join(ROOT, "target/bench-peers-criterion")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    users = []
    for n, path in csv_files:
        os.symlink(path, os.path.join(data, os.path.basename(path)))
        users.append(str(n))
    env = dict(os.environ, DIRGATE_BENCH_DATA=data, DIRGATE_BENCH_USERS=",".join(users))
    # A filter that matches no criterion benchmark: only the back-to-back summary runs.
    proc = subprocess.run(["cargo", "bench", "-q", "-p", "dirgate-core", "--bench", "validate", "--",
                           "--exact", "no-criterion-benchmark"], cwd=ROOT, env=env, capture_output=True, text=True)
    rows = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("csv/"):
            # file MB records dirgate-MB/s dirgate-rec/s limit-MB/s ratio wc-MB/s
            rows[int(parts[0][4:])] = {"mb": float(parts[1]), "ours": float(parts[3]), "limit": float(parts[5])}
    if proc.returncode != 0 or not rows:
        return None, f"cargo bench failed: {proc.stderr.strip().splitlines()[-1:] if proc.stderr else proc.returncode}"
    return rows, None


def generate(users, only, profile):
    subprocess.run([sys.executable, os.path.join(ROOT, "tests/bench/gen_data.py"), "--users", str(users),
                    "--only", only, "--profile", profile, "--out", os.path.join(ROOT, "target/bench-data")],
                   check=True, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv-users", default="100000,1000000")
    parser.add_argument("--ldif-users", default="100000,1000000")
    parser.add_argument("--profile", default="lean", choices=["lean", "full"], help="LDIF profile (default lean)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=1800, help="per run, seconds")
    parser.add_argument("--only", help="comma-separated substrings of tool names to run")
    parser.add_argument("--json", help="also write every measurement here")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any tool failed (timings never fail)")
    args = parser.parse_args()

    data = os.path.join(ROOT, "target/bench-data")
    files = []  # (format, users, path, records)
    for n in [int(x) for x in args.csv_users.split(",") if x]:
        generate(n, "csv", "full")
        files.append(("csv", n, os.path.join(data, f"users-{n}.csv")))
    for n in [int(x) for x in args.ldif_users.split(",") if x]:
        generate(n, "ldif", args.profile)
        suffix = "-lean" if args.profile == "lean" else ""
        files.append(("ldif", n, os.path.join(data, f"ad-{n}{suffix}.ldif")))
    table = []
    for fmt, n, path in files:
        counts = json.load(open(path.rsplit(".", 1)[0] + ".counts.json"))
        records = counts["records"]["rows" if fmt == "csv" else "entries"]
        mb = os.path.getsize(path) / 1e6
        for name, where, formats, build, env in TOOLS:
            if fmt not in formats or (args.only and not any(s in name for s in args.only.split(","))):
                continue
            runs, error = [], None
            for _ in range(args.runs):
                m = measure(build(path), env, args.timeout)
                if "error" in m:
                    error = m["error"]
                    break
                runs.append(m)
            row = {"file": os.path.basename(path), "format": fmt, "users": n, "mb": mb, "records": records,
                   "tool": name, "where": where, "runs": len(runs)}
            if error:
                row["error"] = error
            if runs:
                secs = statistics.median(r["seconds"] for r in runs)
                row.update(seconds=secs, mbps=mb / secs, rps=records / secs,
                           peak_mib=statistics.median(r["peak"] for r in runs) / 2**20,
                           max_peak_mib=max(r["peak"] for r in runs) / 2**20)
                res = runs[-1]["result"] or {}
                if res.get("maxStallMs") is not None:
                    row["max_stall_ms"] = max(r["result"]["maxStallMs"] for r in runs)
                if res.get("workerSeconds"):
                    row["loop_mbps"] = mb / statistics.median(r["result"]["workerSeconds"] for r in runs)
                if res.get("peakWasmBytes"):
                    row["wasm_mib"] = res["peakWasmBytes"] / 2**20
                if res.get("peakJsHeapBytes"):
                    row["js_heap_mib"] = res["peakJsHeapBytes"] / 2**20
            table.append(row)
            status = f"{row['mbps']:8.1f} MB/s" if "mbps" in row else f"FAILED: {row['error']}"
            print(f"  {row['file']:<24} {name:<42} {status}", file=sys.stderr, flush=True)
    csv_files = [(n, p) for fmt, n, p in files if fmt == "csv"]
    if csv_files and not args.only:
        rows, error = criterion_limits(csv_files)
        for n, p in csv_files:
            base = {"file": os.path.basename(p), "format": "csv", "users": n, "mb": os.path.getsize(p) / 1e6,
                    "records": n, "where": "in-process", "runs": 5}
            if error:
                table.append(dict(base, tool="limit: csv crate raw loop", error=error))
                continue
            r = rows[n]
            for tool, mbps in (("dirgate core in-process (criterion)", r["ours"]), ("limit: csv crate raw loop", r["limit"])):
                table.append(dict(base, tool=tool, mbps=mbps, rps=n * mbps / base["mb"], seconds=base["mb"] / mbps))

    print_table(table, args.runs)
    print_goals(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=1)
    # npm ldif cannot read a file past V8's string limit, and python-ldap may not install: both
    # are results to report, not a broken suite.
    failed = [r for r in table if "error" in r and not r["error"].startswith(("cannot read", "skipped"))]
    if failed and args.strict:
        sys.exit(f"{len(failed)} measurement(s) failed")


def print_table(table, runs):
    print(f"\nmedian of {runs} runs; {os.cpu_count()} cores; peak = peak RSS "
          "(Chromium: renderer process VmHWM, page + workers)")
    print(f"| {'file':<24} | {'tool':<42} | {'MB/s':>8} | {'records/s':>11} | {'peak MiB':>8} | note")
    print(f"|{'-' * 26}|{'-' * 44}|{'-' * 10}|{'-' * 13}|{'-' * 10}|-----")
    for r in table:
        if "mbps" not in r:
            print(f"| {r['file']:<24} | {r['tool']:<42} | {'—':>8} | {'—':>11} | {'—':>8} | {r['error']}")
            continue
        notes = []
        if "loop_mbps" in r:
            notes.append(f"{r['loop_mbps']:.1f} MB/s by the worker's own clock (feed loop only: no worker start, wasm compile or finish())")
        if "wasm_mib" in r:
            notes.append(f"wasm memory {r['wasm_mib']:.0f} MiB")
        if "js_heap_mib" in r and r["where"] == "chromium":
            notes.append(f"page JS heap {r['js_heap_mib']:.0f} MiB")
        if "max_stall_ms" in r:
            notes.append(f"longest main-thread gap {r['max_stall_ms']:.0f} ms")
        if r.get("error"):
            notes.append(r["error"])
        peak = f"{r['peak_mib']:.0f}" if "peak_mib" in r else "—"
        print(f"| {r['file']:<24} | {r['tool']:<42} | {r['mbps']:>8.1f} | {r['rps']:>11,.0f} | {peak:>8} | {'; '.join(notes)}")


def print_goals(table):
    def get(file, tool):
        for r in table:
            if r["file"] == file and r["tool"] == tool and "mbps" in r:
                return r
        return None

    print("\ngoals (ratios within this run):")
    files = sorted({(r["format"], r["users"], r["file"]) for r in table})
    for fmt, n, file in files:
        native = get(file, "dirgate native (check --json)")
        chrome = get(file, "dirgate wasm, Chromium Worker")
        grep = get(file, "limit: grep -c @")
        if fmt == "csv":
            papa = [x for x in (get(file, "Papa Parse, Chromium main (string, step)"),
                                get(file, "Papa Parse, Chromium worker: true")) if x]
            if chrome and papa:
                best = max(papa, key=lambda x: x["mbps"])
                ratio = chrome["mbps"] / best["mbps"]
                print(f"  {file}: Chromium dirgate / best Papa Parse = {ratio:.2f}x (goal >= 2x) "
                      f"{'MET' if ratio >= 2 else 'MISSED'}")
            raw = get(file, "limit: csv crate raw loop")
            core = get(file, "dirgate core in-process (criterion)")
            if raw and core:
                print(f"  {file}: core in-process / csv crate raw loop = {core['mbps'] / raw['mbps']:.2f}x "
                      "(the core's own bar: >= 0.5x)")
        else:
            peers = [x for x in (get(file, "npm ldif (ldif.parse)"), get(file, "PyPI ldif (LDIFParser)"),
                                 get(file, "python-ldap ldif (LDIFParser)")) if x]
            for ours in (native, chrome):
                if ours and peers:
                    best = max(peers, key=lambda x: x["mbps"])
                    ratio = ours["mbps"] / best["mbps"]
                    print(f"  {file}: {ours['tool']} / fastest LDIF parser ({best['tool']}) = {ratio:.1f}x "
                          f"(goal >= 10x) {'MET' if ratio >= 10 else 'MISSED'}")
            if chrome and "peak_mib" in chrome:
                ok = chrome["max_peak_mib"] < 300
                print(f"  {file}: Chromium peak {chrome['max_peak_mib']:.0f} MiB (goal < 300), longest main-thread "
                      f"gap {chrome.get('max_stall_ms', float('nan')):.0f} ms {'MET' if ok else 'MISSED'}")
        if chrome and native:
            ratio = native["mbps"] / chrome["mbps"]
            print(f"  {file}: native / Chromium wasm = {ratio:.2f}x (goal <= 1.5x) {'MET' if ratio <= 1.5 else 'MISSED'}")
        if native and grep:
            ratio = grep["mbps"] / native["mbps"]
            print(f"  {file}: grep -c @ / native = {ratio:.2f}x (goal <= 3x) {'MET' if ratio <= 3 else 'MISSED'}")


if __name__ == "__main__":
    main()
