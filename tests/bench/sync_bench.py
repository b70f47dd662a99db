#!/usr/bin/env python3
"""The directory sync agent's end-to-end figure: N LDAP users from a real slapd to the server.

    cargo build --release -p dirgate -p dirgate-sync
    python3 tests/bench/sync_bench.py [--users 100000] [--page-size 1000]

Loads N users (inetOrgPerson, `mail`, every tenth with a `mailAlternateAddress`) and N/100
groupOfNames of 100 members into a private slapd with slapadd (much faster than ldapadd),
starts the release `dirgate serve` on a temporary database, and times the release
`dirgate-sync run` twice: the first sync into an empty tenant, then a sync of the unchanged
directory (every address kept). Each time covers the whole run: the paged LDAP search, the
normalisation through the core, the gzip JSON push and the server's re-validation and apply.

Needs Debian's slapd and ldap-utils. Nothing is written outside a temporary folder.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PASSWORD = "bench-operator-password"
ROOT_DN = "cn=admin,dc=example,dc=org"
SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sync", "mail-alternate.schema")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def directory_ldif(path, users):
    with open(path, "w") as f:
        f.write("dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n")
        f.write("dn: ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: people\n\n")
        f.write("dn: ou=groups,dc=example,dc=org\nobjectClass: organizationalUnit\nou: groups\n\n")
        for i in range(users):
            alt = i % 10 == 0
            f.write(f"dn: uid=u{i},ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\n")
            if alt:
                f.write("objectClass: dirgateMailAlternate\n")
            f.write(f"uid: u{i}\ncn: User {i}\nsn: {i}\ndisplayName: User {i}\nmail: user{i}@example.com\n")
            if alt:
                f.write(f"mailAlternateAddress: alias{i}@example.com\n")
            f.write("\n")
        for g in range(users // 100):
            f.write(f"dn: cn=team{g},ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: team{g}\n")
            for i in range(g * 100, g * 100 + 100):
                f.write(f"member: uid=u{i},ou=people,dc=example,dc=org\n")
            f.write("\n")


def start_slapd(workdir, ldif):
    db = os.path.join(workdir, "db")
    os.mkdir(db)
    conf = os.path.join(workdir, "slapd.conf")
    schemas = "".join(f"include /etc/ldap/schema/{s}.schema\n" for s in ["core", "cosine", "inetorgperson", "nis", "misc"])
    with open(conf, "w") as f:
        f.write(schemas + f"include {SCHEMA}\npidfile {workdir}/slapd.pid\nargsfile {workdir}/slapd.args\n"
                "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                "sizelimit size.soft=1000 size.hard=1000 size.prtotal=unlimited\n"
                f"database mdb\nmaxsize 8589934592\nsuffix \"dc=example,dc=org\"\nrootdn \"{ROOT_DN}\"\n"
                f"rootpw bench\ndirectory {db}\n")
    started = time.perf_counter()
    subprocess.run(["/usr/sbin/slapadd", "-q", "-f", conf, "-l", ldif], check=True)
    load = time.perf_counter() - started
    port = free_port()
    proc = subprocess.Popen(["/usr/sbin/slapd", "-h", f"ldap://127.0.0.1:{port}/", "-f", conf, "-d", "0"],
                            stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    else:
        sys.exit("slapd did not start")
    return proc, port, load


def start_server(binary, db):
    env = dict(os.environ, DIRGATE_ADMIN_PASSWORD=PASSWORD)
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--db", db],
                            stdout=subprocess.PIPE, env=env, text=True)
    while True:
        line = proc.stdout.readline()
        if not line:
            sys.exit("dirgate serve exited")
        match = re.search(r"http://([\d.]+):(\d+)/", line)
        if match:
            return proc, match.group(1), int(match.group(2))


def call(host, port, method, path, body, headers):
    conn = http.client.HTTPConnection(host, port, timeout=600)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data, response


def api_key(host, port):
    status, data, response = call(host, port, "POST", "/api/v1/session",
                                  json.dumps({"username": "admin", "password": PASSWORD}),
                                  {"Content-Type": "application/json"})
    assert status == 200, data
    operator = {"Cookie": response.getheader("Set-Cookie").split(";")[0], "Origin": f"http://{host}:{port}",
                "Content-Type": "application/json"}
    status, data, _ = call(host, port, "POST", "/api/v1/tenants",
                           json.dumps({"name": "Bench", "domains": ["example.com"]}), operator)
    assert status == 201, data
    tenant = json.loads(data)["id"]
    status, data, _ = call(host, port, "POST", f"/api/v1/tenants/{tenant}/keys", "{}", operator)
    assert status == 201, data
    return json.loads(data)["key"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--server", default="target/release/dirgate")
    parser.add_argument("--agent", default="target/release/dirgate-sync")
    args = parser.parse_args()
    for binary in (args.server, args.agent):
        if not os.path.exists(binary):
            sys.exit(f"{binary} is missing: cargo build --release -p dirgate -p dirgate-sync")

    workdir = tempfile.mkdtemp(prefix="dirgate-sync-bench-")
    slapd = server = None
    try:
        ldif = os.path.join(workdir, "directory.ldif")
        directory_ldif(ldif, args.users)
        slapd, ldap_port, load = start_slapd(workdir, ldif)
        server, host, port = start_server(args.server, os.path.join(workdir, "bench.redb"))
        config = os.path.join(workdir, "dirgate-sync.toml")
        with open(config, "w") as f:
            f.write(f"[server]\nurl = \"http://{host}:{port}\"\napi_key_env = \"BENCH_API_KEY\"\n\n"
                    f"[[source]]\nname = \"bench-ldap\"\nkind = \"openldap\"\nhost = \"127.0.0.1\"\nport = {ldap_port}\n"
                    f"tls = \"none\"\nbase_dn = \"dc=example,dc=org\"\nbind_dn = \"{ROOT_DN}\"\n"
                    f"password_env = \"BENCH_LDAP_PASSWORD\"\npage_size = {args.page_size}\n")
        env = dict(os.environ, BENCH_API_KEY=api_key(host, port), BENCH_LDAP_PASSWORD="bench")

        def run():
            started = time.perf_counter()
            done = subprocess.run([args.agent, "--config", config, "run"], env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                sys.exit(f"dirgate-sync run failed ({done.returncode}):\n{done.stderr}")
            return elapsed, done.stderr

        first, log = run()
        pushed = re.search(r"normalised: (\d+) recipients, (\d+) aliases, (\d+) groups", log)
        if not pushed or int(pushed.group(1)) != args.users or "pushed: change" not in log:
            sys.exit(f"the first sync did not push {args.users} recipients:\n{log}")
        second, _ = run()
        read = re.search(r"entries in ([\d.]+) s", log)
        print(f"pushed: {pushed.group(1)} recipients, {pushed.group(2)} aliases, {pushed.group(3)} groups"
              f" (groups of 100 members), page size {args.page_size}")
        print(f"slapadd load:                      {load:6.1f} s")
        print(f"dirgate-sync run, first sync:      {first:6.1f} s   (of which LDAP search {read.group(1) if read else '?'} s)")
        print(f"dirgate-sync run, unchanged again: {second:6.1f} s")
    finally:
        for proc in (server, slapd):
            if proc:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
