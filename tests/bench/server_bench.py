#!/usr/bin/env python3
"""Server figures for dirgate, measured against the real release binary on loopback.

    python3 tests/bench/server_bench.py [--users 1000000] [--runs 3] [--wrk-seconds 10]

Prints one table:
- the time to import N normalised recipients (gzip JSON, as the browser uploads them), first
  into an empty domain and then again over the same N (diff + snapshot + replace);
- the time to import the same N as a raw CSV file (parsed and validated on the server);
- export throughput of recipients.csv in MB/s;
- recipient-check requests per second and latency percentiles from wrk (Debian's `wrk`),
  over random known and unknown addresses, with the server's peak RSS;
- `GET /healthz` with the same wrk settings in the same run, as the ceiling of the HTTP stack.

Data is generated deterministically here; nothing is written outside a temporary folder.
"""

import argparse
import gzip
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PASSWORD = "bench-operator-password"
DOMAIN = "bench.example"


def start(binary, db):
    env = dict(os.environ, DIRGATE_ADMIN_PASSWORD=PASSWORD)
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--db", db, "--max-upload-mib", "1024",
         "--policy-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    policy = None
    while True:
        line = proc.stdout.readline()
        if not line:
            sys.exit("dirgate serve exited")
        found = re.search(r"policy service listening on ([\d.]+):(\d+)", line)
        if found:
            policy = (found.group(1), int(found.group(2)))
        match = re.search(r"http://([\d.]+):(\d+)/", line)
        if match:
            return proc, match.group(1), int(match.group(2)), policy


class Api:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.headers = {}

    def call(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=3600)
        all_headers = dict(self.headers)
        all_headers.update(headers or {})
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data, response


def median_time(fn, runs):
    times = []
    for _ in range(runs):
        start_time = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start_time)
    return statistics.median(times)


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def policy_latency(policy, n, requests=20000):
    """Postfix policy requests over one kept-open connection, as Postfix's smtpd sends them."""
    import random
    import socket
    rng = random.Random(42)
    sock = socket.create_connection(policy)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb")
    times = []
    rejects = 0
    for _ in range(requests):
        i = rng.randrange(0, 2 * n)
        request = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n"
                   f"sender=a@test.invalid\nrecipient=user{i}@{DOMAIN}\n\n").encode()
        t = time.perf_counter()
        sock.sendall(request)
        action = reader.readline()
        reader.readline()
        times.append(time.perf_counter() - t)
        rejects += action.startswith(b"action=REJECT")
        assert (i >= n) == action.startswith(b"action=REJECT"), (i, action)
    sock.close()
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(p / 100 * len(times)))] * 1e6
    return (f"policy service, one connection, {requests:,} requests", f"{len(times) / sum(times):,.0f} req/s",
            f"p50 {pct(50):.0f}us, p99 {pct(99):.0f}us, p99.9 {pct(99.9):.0f}us, max {times[-1] * 1e6:.0f}us; "
            f"{rejects:,} rejected, all answers checked")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--binary", default="target/release/dirgate")
    args = parser.parse_args()
    n = args.users

    workdir = tempfile.mkdtemp(prefix="dirgate-bench-")
    proc, host, port, policy = start(args.binary, os.path.join(workdir, "bench.redb"))
    rows = []
    try:
        api = Api(host, port)
        status, data, response = api.call(
            "POST", "/api/v1/session", json.dumps({"username": "admin", "password": PASSWORD}),
            {"Content-Type": "application/json"})
        assert status == 200, data
        cookie = response.getheader("Set-Cookie").split(";")[0]
        origin = f"http://{host}:{port}"
        operator = {"Cookie": cookie, "Origin": origin, "Content-Type": "application/json"}
        status, data, _ = api.call("POST", "/api/v1/tenants", json.dumps({"name": "Bench", "domains": [DOMAIN]}), operator)
        assert status == 201, data
        tenant = json.loads(data)["id"]
        status, data, _ = api.call("POST", f"/api/v1/tenants/{tenant}/keys", "{}", operator)
        key = json.loads(data)["key"]
        api.headers = {"Authorization": f"Bearer {key}"}
        status, data, _ = api.call("PUT", "/api/v1/settings",
                                   json.dumps({"deletion_threshold_percent": 100, "daily_import_limit": 1000}),
                                   {"Content-Type": "application/json"})
        assert status == 200, data

        recipients = [{"address": f"user{i}@{DOMAIN}", "name": f"User {i}"} for i in range(n)]
        body = json.dumps({"recipients": recipients, "files": [{"name": "bench.csv", "format": "csv"}],
                           "description": "benchmark"}).encode()
        compressed = gzip.compress(body, 6)
        json_headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}

        def import_json():
            status, data, _ = api.call("POST", "/api/v1/imports", compressed, json_headers)
            assert status == 201, data[:500]

        first = median_time(import_json, 1)
        rows.append((f"import {n:,} normalised recipients (empty domain)", f"{first:.2f} s",
                     f"{n / first:,.0f} records/s, {len(body) / 1e6:.0f} MB JSON, {len(compressed) / 1e6:.1f} MB gzip"))
        again = median_time(import_json, args.runs)
        rows.append((f"re-import the same {n:,} (diff, snapshot, replace)", f"{again:.2f} s",
                     f"{n / again:,.0f} records/s, median of {args.runs}"))

        csv_body = "".join(f"user{i}@{DOMAIN},User {i}\n" for i in range(n)).encode()

        def import_csv():
            status, data, _ = api.call("POST", "/api/v1/imports?name=bench.csv", csv_body, {"Content-Type": "text/csv"})
            assert status == 201, data[:500]

        raw = median_time(import_csv, args.runs)
        rows.append((f"import {n:,} rows as a raw CSV file", f"{raw:.2f} s",
                     f"{n / raw:,.0f} records/s, {len(csv_body) / 1e6:.0f} MB, median of {args.runs}"))

        exported = {}

        def export():
            status, data, _ = api.call("GET", "/api/v1/exports/recipients.csv")
            assert status == 200
            exported["bytes"] = len(data)

        exp = median_time(export, args.runs)
        rows.append(("export recipients.csv", f"{exported['bytes'] / 1e6 / exp:.0f} MB/s",
                     f"{exported['bytes'] / 1e6:.0f} MB in {exp:.2f} s, {n / exp:,.0f} rows/s, median of {args.runs}"))
        rows.append(("server peak RSS so far", f"{peak_rss_mib(proc.pid):.0f} MiB", ""))

        wrk = shutil.which("wrk")
        if wrk:
            script = os.path.join(workdir, "check.lua")
            with open(script, "w") as f:
                f.write(
                    f'wrk.headers["Authorization"] = "Bearer {key}"\n'
                    "math.randomseed(42)\n"
                    "request = function()\n"
                    f"  local i = math.random(0, {2 * n})\n"
                    f'  return wrk.format("GET", "/api/v1/recipients/user" .. i .. "@{DOMAIN}")\n'
                    "end\n")
            out = subprocess.run(
                [wrk, "-t2", f"-c{args.connections}", f"-d{args.wrk_seconds}s", "--latency", "-s", script,
                 f"http://{host}:{port}"], capture_output=True, text=True, check=True).stdout
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
            lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
            errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            rows.append((f"recipient check, wrk -t2 -c{args.connections} -d{args.wrk_seconds}s",
                         f"{float(rps):,.0f} req/s",
                         f"p50 {lat.get('50')}, p90 {lat.get('90')}, p99 {lat.get('99')}; half the addresses unknown"
                         + (f"; {errors.group(1)} non-2xx" if errors else "")))
            # The ceiling, in the same run with the same wrk settings: GET /healthz does no work.
            health = subprocess.run(
                [wrk, "-t2", f"-c{args.connections}", f"-d{args.wrk_seconds}s", "--latency",
                 f"http://{host}:{port}/healthz"], capture_output=True, text=True, check=True).stdout
            hrps = re.search(r"Requests/sec:\s+([\d.]+)", health).group(1)
            hlat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", health, re.M))
            rows.append((f"ceiling: GET /healthz, wrk -t2 -c{args.connections} -d{args.wrk_seconds}s",
                         f"{float(hrps):,.0f} req/s",
                         f"p50 {hlat.get('50')}, p90 {hlat.get('90')}, p99 {hlat.get('99')}; "
                         f"recipient check = {float(rps) / float(hrps):.0%} of it (goal >= 50%, p99 < 2 ms)"))
            out1 = subprocess.run(
                [wrk, "-t1", "-c1", f"-d{max(3, args.wrk_seconds // 2)}s", "--latency", "-s", script,
                 f"http://{host}:{port}"], capture_output=True, text=True, check=True).stdout
            lat1 = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out1, re.M))
            rps1 = re.search(r"Requests/sec:\s+([\d.]+)", out1).group(1)
            rows.append(("recipient check, one connection", f"{float(rps1):,.0f} req/s",
                         f"p50 {lat1.get('50')}, p90 {lat1.get('90')}, p99 {lat1.get('99')}"))
        else:
            rows.append(("recipient check", "skipped", "install wrk (apt-get install wrk)"))
        rows.append(policy_latency(policy, n))
        rows.append(("server peak RSS", f"{peak_rss_mib(proc.pid):.0f} MiB", ""))
        rows.append(("database file", f"{os.path.getsize(os.path.join(workdir, 'bench.redb')) / 1e6:.0f} MB", ""))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    width = max(len(r[0]) for r in rows)
    print(f"\ndirgate server, {n:,} users, {os.cpu_count()} cores")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
