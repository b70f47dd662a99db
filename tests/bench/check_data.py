#!/usr/bin/env python3
"""Independent check of gen_data.py output (Python 3.11, standard library only).

Parses the whole LDIF by the rules of docs/domain.md (unfold, base64, primary address =
`SMTP:` proxy, else mail, else first `smtp:`; other smtp: values are aliases; objectClass
group => group; other entries with an address are recipients; the rest are skipped), then
compares with the .counts.json written by the generator. Also checks the file shape (CRLF only,
ASCII only, lines <= 76 bytes, leading blank line, dn + `changetype: add` in every record,
unique addresses case-insensitively, member DNs resolvable, memberOf consistent with member)
and the CSV (LF only, csv-module parsable, 2 fields, same users and names as the LDIF).

    python3 tests/bench/check_data.py --users 100000 [--out target/bench-data] [--profile lean]
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict

GROUP_CLASSES = {"group", "groupofnames", "groupofuniquenames", "groupofurls"}
ADDR_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
                     r"[a-z0-9-]+(\.[a-z0-9-]+)+$")


def fail(msg: str) -> None:
    print("FAIL:", msg)
    sys.exit(1)


def dom_of(a: str) -> str:
    return a.rsplit("@", 1)[1].lower()


def check_ldif(path: str, counts: dict) -> dict:
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        data = f.read()
    if data.count(b"\n") != data.count(b"\r\n"):
        fail("bare LF line end in LDIF")
    if data.count(b"\r") != data.count(b"\r\n"):
        fail("bare CR in LDIF")
    text = data.decode("ascii")  # non-ASCII must all be base64
    del data
    if not text.startswith("\r\ndn: "):
        fail("LDIF does not start with a blank line then dn (ldifde style)")
    if not text.endswith("\r\n") or text.endswith("\r\n\r\n"):
        fail("LDIF must end with exactly one CRLF after the last line")
    recs = text[2:-2].split("\r\n\r\n")
    del text
    entries = {}  # dn -> (kind, primary)
    n_rec = n_folded = max_line = 0
    recipients: list[str] = []
    aliases: list[str] = []
    group_addr: list[str] = []
    groups = 0
    skipped = 0
    group_members: list[tuple[str, list[str]]] = []
    member_of: dict[str, list[str]] = {}
    display_of: dict[str, str] = {}  # primary (lower) -> displayName, user mailboxes only
    non_ascii_names = 0
    url_values = 0
    for rec in recs:
        n_rec += 1
        if "\r\n\r\n" in rec or rec.startswith("\r\n"):
            fail(f"record {n_rec}: more than one blank line between records")
        raw_lines = rec.split("\r\n")
        ml = max(map(len, raw_lines))
        max_line = max(max_line, ml)
        if ml > 76:
            fail(f"record {n_rec}: line longer than 76 bytes")
        if "\r\n " in rec:
            n_folded += 1
        lines = rec.replace("\r\n ", "").split("\r\n")
        if not lines[0].startswith("dn:"):
            fail(f"record {n_rec}: no dn")
        if len(lines) < 2 or lines[1] != "changetype: add":
            fail(f"record {n_rec}: no 'changetype: add' after the dn")
        attrs: dict[str, list[str]] = defaultdict(list)
        for ln in lines:
            name, sep, val = ln.partition(":")
            if not sep:
                fail(f"record {n_rec}: bad line {ln[:40]!r}")
            if val.startswith(":"):
                val = base64.b64decode(val[1:].strip(), validate=True)
                if name.lower() in ("objectguid", "objectsid", "msexchmailboxguid", "thumbnailphoto"):
                    val = "<binary>"
                else:
                    val = val.decode("utf-8")
            elif val.startswith("<"):
                url_values += 1
                continue
            else:
                val = val.lstrip(" ")
            attrs[name.lower().split(";")[0]].append(val)
        dn = attrs["dn"][0]
        oc = {v.lower() for v in attrs.get("objectclass", [])}
        proxies = attrs.get("proxyaddresses", [])
        mail = attrs.get("mail", [])
        primary = None
        for p in proxies:
            if p.startswith("SMTP:"):
                primary = p[5:]
                break
        if primary is None and mail:
            primary = mail[0]
        if primary is None:
            for p in proxies:
                if p.lower().startswith("smtp:"):
                    primary = p[5:]
                    break
        als = []
        if primary is not None:
            seen_primary = False
            for p in proxies:
                if p.lower().startswith("smtp:"):
                    if p[5:] == primary and not seen_primary:
                        seen_primary = True
                        continue
                    als.append(p[5:])
            for mv in mail:
                if mv.lower() != primary.lower():
                    als.append(mv)
            for extra in ("mailalternateaddress", "maillocaladdress", "othermailbox"):
                als.extend(v for v in attrs.get(extra, []) if "@" in v)
        is_group = bool(oc & GROUP_CLASSES)
        if is_group:
            groups += 1
            if primary:
                group_addr.append(primary)
            group_members.append((dn.lower(), attrs.get("member", []) + attrs.get("uniquemember", [])))
            entries[dn.lower()] = ("group", primary)
        elif primary:
            recipients.append(primary)
            entries[dn.lower()] = ("mailbox", primary)
            if "user" in oc:
                disp = attrs.get("displayname", [""])[0]
                display_of[primary.lower()] = disp
                if not disp.isascii():
                    non_ascii_names += 1
                member_of[dn.lower()] = [v.lower() for v in attrs.get("memberof", [])]
        else:
            skipped += 1
            entries[dn.lower()] = ("skipped", None)
        aliases.extend(als)

    # uniqueness (case-insensitive) across recipients, aliases, group addresses
    allk = Counter(a.lower() for a in recipients + aliases + group_addr)
    dups = [a for a, c in allk.items() if c > 1]
    if dups:
        fail(f"{len(dups)} duplicate addresses, e.g. {dups[:5]}")
    bad = [a for a in recipients + aliases + group_addr if not ADDR_RE.match(a) or len(a.split("@")[0]) > 64]
    if bad:
        fail(f"{len(bad)} invalid addresses, e.g. {bad[:5]}")
    # members
    resolved = unresolved = to_skipped = 0
    members_of_user: dict[str, list[str]] = defaultdict(list)
    for gdn, mem in group_members:
        for md in mem:
            e = entries.get(md.lower())
            if e is None:
                unresolved += 1
            elif e[1] is None:
                to_skipped += 1
            else:
                resolved += 1
                if e[0] == "mailbox":
                    members_of_user[md.lower()].append(gdn)
    if to_skipped:
        fail(f"{to_skipped} member DNs point to entries without an address (ambiguous in the spec)")
    if counts["params"].get("profile", "full") == "full":
        for udn, mo in member_of.items():
            if sorted(mo) != sorted(members_of_user.get(udn, [])):
                fail(f"memberOf of {udn} disagrees with the groups' member values")

    # per-domain
    doms: dict[str, dict] = {}

    def d(x):
        return doms.setdefault(x, {"domain": x, "recipients": 0, "aliases": 0, "groups": 0})
    for a in recipients:
        d(dom_of(a))["recipients"] += 1
    for a in aliases:
        d(dom_of(a))["aliases"] += 1
    for a in group_addr:
        d(dom_of(a))["groups"] += 1
    got = {"recipients": len(recipients), "aliases": len(aliases), "groups": groups, "skipped": skipped,
           "unmanaged": 0}
    if got != counts["counts"]:
        fail(f"counts differ: parsed {got}, counts.json {counts['counts']}")
    got_domains = sorted(doms.values(), key=lambda x: x["domain"])
    if got_domains != counts["domains"]:
        fail(f"per-domain counts differ:\n{got_domains}\n{counts['domains']}")
    managed = set(counts["managed_domains"])
    unmanaged = sum(1 for a in recipients if dom_of(a) not in managed)
    if unmanaged != counts["counts_managed"]["unmanaged"]:
        fail("unmanaged count differs")
    rc = counts["records"]
    if n_rec != rc["entries"] or resolved != rc["members_users"] + rc["members_nested_groups"] \
            or unresolved != rc["members_unresolved"]:
        fail(f"records/members differ: {n_rec} {resolved} {unresolved} vs {rc}")
    if non_ascii_names != rc["non_ascii_names"]:
        fail(f"non-ASCII display names: parsed {non_ascii_names}, counts.json {rc['non_ascii_names']}")
    if url_values:
        fail("attr:< URL values present")
    dt = time.perf_counter() - t0
    print(f"OK {path}: {n_rec} records, {n_folded} with folded lines, max line {max_line} bytes; "
          f"recipients={len(recipients)} aliases={len(aliases)} groups={groups} skipped={skipped}; "
          f"members resolved={resolved} unresolved={unresolved}; non-ASCII user display names="
          f"{non_ascii_names} ({100 * non_ascii_names / max(1, len(display_of)):.1f}%); checked in {dt:.0f}s")
    return display_of


def check_csv(path: str, counts: dict, ldif_users: dict | None) -> None:
    with open(path, "rb") as f:
        data = f.read()
    if b"\r" in data:
        fail("CR in CSV")
    if data.startswith(b"\xef\xbb\xbf"):
        fail("BOM in CSV")
    text = data.decode("utf-8")
    rows = list(csv.reader(text.splitlines(), strict=True))
    if any(len(r) != 2 for r in rows):
        fail("row without exactly 2 fields")
    if rows and rows[0][0].lower() in ("email", "mail", "e-mail", "address"):
        fail("header row present")
    emails = Counter(r[0].lower() for r in rows)
    if len(emails) != len(rows):
        fail("duplicate emails in CSV")
    bad = [r[0] for r in rows if not ADDR_RE.match(r[0])]
    if bad:
        fail(f"invalid CSV addresses, e.g. {bad[:5]}")
    quoted = sum(1 for ln in text.splitlines() if '"' in ln)
    nonascii = sum(1 for r in rows if not r[1].isascii())
    if len(rows) != counts["counts"]["recipients"]:
        fail(f"CSV rows {len(rows)} != counts.json {counts['counts']['recipients']}")
    doms = Counter(dom_of(r[0]) for r in rows)
    want = {x["domain"]: x["recipients"] for x in counts["domains"]}
    if dict(doms) != want:
        fail(f"CSV per-domain differs: {dict(doms)} vs {want}")
    same = ""
    if ldif_users is not None:
        mine = {r[0].lower(): r[1] for r in rows}
        if mine != ldif_users:
            fail("CSV users/names differ from the LDIF's user mailboxes")
        same = "; identical to the LDIF's user mailboxes and display names"
    print(f"OK {path}: {len(rows)} rows, {len(data) / max(1, len(rows)):.1f} bytes/row, {quoted} quoted "
          f"({100 * quoted / max(1, len(rows)):.1f}%), {nonascii} non-ASCII names "
          f"({100 * nonascii / max(1, len(rows)):.1f}%){same}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--out", default="target/bench-data")
    ap.add_argument("--profile", choices=["full", "lean"], default="full")
    ap.add_argument("--only", choices=["csv", "ldif"])
    a = ap.parse_args()
    stem = f"ad-{a.users}" if a.profile == "full" else f"ad-{a.users}-lean"
    users = None
    if a.only in (None, "ldif"):
        with open(os.path.join(a.out, stem + ".counts.json"), encoding="utf-8") as f:
            c = json.load(f)
        users = check_ldif(os.path.join(a.out, stem + ".ldif"), c)
    if a.only in (None, "csv"):
        with open(os.path.join(a.out, f"users-{a.users}.counts.json"), encoding="utf-8") as f:
            c = json.load(f)
        check_csv(os.path.join(a.out, f"users-{a.users}.csv"), c, users)
    return 0


if __name__ == "__main__":
    sys.exit(main())
