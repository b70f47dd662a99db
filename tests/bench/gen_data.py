#!/usr/bin/env python3
"""Benchmark data generator for dirgate.

Deterministically generates, from --seed and --users N:

  DIR/ad-{N}.ldif          an `ldifde`-style Active Directory export (CRLF, changetype: add,
                           base64 for non-ASCII values, RFC 2849 folding at 76 bytes)
  DIR/ad-{N}.counts.json   record counts and what a validator should report for it
  DIR/users-{N}.csv        the anchor two-column format `email,name` (LF, no header)
  DIR/users-{N}.counts.json
  DIR/ad-{N}-lean.ldif     with --profile lean: the same directory with fewer attributes per entry

The CSV holds exactly the mailbox users of the LDIF (same primary addresses, same display
names), so the two files can be cross-checked.

Python 3.11, standard library only. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import binascii
import bisect
import json
import os
import random
import struct
import sys
import time
import unicodedata

# Bump when the output for a given (seed, N, profile) changes; stale files are then regenerated.
GEN_VERSION = 1

# ---------------------------------------------------------------------------------------------
# Static data
# ---------------------------------------------------------------------------------------------

# Mail domains and their share of mailboxes. The tenant (".onmicrosoft.com") domain is also
# used for every mailbox's cloud alias, as in an Exchange hybrid deployment.
TENANT = "example.onmicrosoft.com"
MAIL_DOMAINS = [
    ("example.com", 0.52),
    ("example.net", 0.15),
    ("corp.example.org", 0.14),
    ("sub.example.com", 0.12),
    (TENANT, 0.07),
]
DOM_NAMES = [d for d, _ in MAIL_DOMAINS]
DOM_CUM = []
_acc = 0.0
for _d, _w in MAIL_DOMAINS:
    _acc += _w
    DOM_CUM.append(_acc)
DOM_CUM[-1] = 1.0
TENANT_IDX = DOM_NAMES.index(TENANT)
# Domains used for a "secondary domain" alias (acquired brand, old domain, ...).
SECONDARY_OK = [i for i, d in enumerate(DOM_NAMES) if d != TENANT]
# External domains of mail contacts. They are not tenant domains (unmanaged when the
# validator is given MANAGED_DOMAINS).
CONTACT_DOMAINS = ["partner.example", "fabrikam.example", "contoso-suppliers.example"]

AD_DN = "DC=corp,DC=example,DC=com"
AD_DNS = "corp.example.com"
NETBIOS = "CORP"
ORG = "Example Corp"
EXCH_ORG = "Example Corp"
DOMAIN_SID = (1, 5, 21, 3623811015, 3361044348, 30300820)  # S-1-5-21-x-y-z
OTHER_DOMAIN_DN = "DC=emea,DC=corp,DC=example,DC=com"  # trusted child domain, not exported
SHOW_IN_GAL = (
    "CN=Default Global Address List,CN=All Global Address Lists,CN=Address Lists Container,"
    f"CN={EXCH_ORG},CN=Microsoft Exchange,CN=Services,CN=Configuration,{AD_DN}"
)
LEGACY_PREFIX = f"/o={EXCH_ORG}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="
X500_PREFIX = "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="
OBJCAT_GROUP = f"CN=Group,CN=Schema,CN=Configuration,{AD_DN}"
OBJCAT_COMPUTER = f"CN=Computer,CN=Schema,CN=Configuration,{AD_DN}"

# (OU name, l, st, postalCode prefix, c, phone prefix, street, weight, computer code)
SITES = [
    ("New York", "New York", "NY", "100", "US", "+1 212 555 ", "Broadway", 0.17, "NYC"),
    ("San Francisco", "San Francisco", "CA", "941", "US", "+1 415 555 ", "Market Street", 0.08, "SFO"),
    ("Chicago", "Chicago", "IL", "606", "US", "+1 312 555 ", "Wacker Drive", 0.07, "CHI"),
    ("Toronto", "Toronto", "ON", "M5V ", "CA", "+1 416 555 ", "King Street West", 0.05, "TOR"),
    ("London", "London", "England", "EC2A ", "GB", "+44 20 7946 ", "Old Street", 0.12, "LON"),
    ("Berlin", "Berlin", "BE", "101", "DE", "+49 30 5550 ", "Friedrichstraße", 0.08, "BER"),
    ("Munich", "München", "BY", "803", "DE", "+49 89 5550 ", "Leopoldstraße", 0.05, "MUC"),
    ("Zurich", "Zürich", "ZH", "80", "CH", "+41 44 555 ", "Bahnhofstrasse", 0.03, "ZRH"),
    ("Paris", "Paris", "IDF", "750", "FR", "+33 1 5555 ", "Rue de Rivoli", 0.06, "PAR"),
    ("Stockholm", "Stockholm", "AB", "111 ", "SE", "+46 8 555 ", "Drottninggatan", 0.03, "STO"),
    ("Krakow", "Kraków", "MA", "31-", "PL", "+48 12 555 ", "ulica Floriańska", 0.05, "KRK"),
    ("Sao Paulo", "São Paulo", "SP", "01310-", "BR", "+55 11 5555 ", "Avenida Paulista", 0.06, "SAO"),
    ("Bangalore", "Bangalore", "KA", "560", "IN", "+91 80 5555 ", "MG Road", 0.10, "BLR"),
    ("Tokyo", "Tokyo", "13", "100-", "JP", "+81 3 5555 ", "Marunouchi", 0.05, "TYO"),
]

# (OU name, weight, titles)
DEPTS = [
    ("Sales", 0.14, ["Account Executive", "Sales Manager", "Account Manager", "Sales Director", "Inside Sales Representative"]),
    ("Marketing", 0.06, ["Marketing Manager", "Product Marketing Manager", "Content Strategist", "Marketing Coordinator"]),
    ("Engineering", 0.22, ["Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager", "QA Engineer", "Site Reliability Engineer"]),
    ("Finance", 0.05, ["Financial Analyst", "Accountant", "Controller", "Payroll Specialist"]),
    ("Human Resources", 0.04, ["HR Business Partner", "Recruiter", "HR Generalist", "Talent Acquisition Lead"]),
    ("Legal", 0.02, ["Counsel", "Paralegal", "Contracts Manager"]),
    ("IT", 0.06, ["Systems Administrator", "Service Desk Analyst", "Network Engineer", "IT Manager"]),
    ("Operations", 0.10, ["Operations Manager", "Logistics Coordinator", "Operations Analyst", "Shift Supervisor"]),
    ("Customer Support", 0.16, ["Support Engineer", "Customer Success Manager", "Support Team Lead", "Technical Support Specialist"]),
    ("Research", 0.06, ["Research Scientist", "Data Scientist", "Research Engineer"]),
    ("Facilities", 0.03, ["Facilities Coordinator", "Office Manager", "Security Officer"]),
    ("Procurement", 0.04, ["Buyer", "Procurement Specialist", "Vendor Manager"]),
    ("Executive", 0.02, ["Vice President", "Chief of Staff", "Executive Assistant", "Director"]),
]

FIRST_ASCII = """James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara
Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Nancy Daniel Lisa Matthew Betty
Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle
Kenneth Dorothy Kevin Carol Brian Amanda George Melissa Edward Deborah Ronald Stephanie Timothy
Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Shirley Eric Angela
Jonathan Helen Stephen Anna Larry Brenda Justin Pamela Scott Nicole Brandon Emma Benjamin Samantha
Samuel Katherine Gregory Christine Frank Debra Alexander Rachel Raymond Catherine Patrick Carolyn Jack
Janet Dennis Ruth Jerry Maria Tyler Heather Aaron Diane Henry Virginia Adam Julie Peter Joyce Nathan
Victoria Zachary Olivia Kyle Kelly Noah Christina Ethan Lauren Jeremy Joan Christian Evelyn Sean
Judith Austin Megan Arthur Cheryl Lawrence Andrea Jesse Hannah Dylan Martha Bryan Jacqueline Jordan
Gloria Bruce Teresa Albert Kathryn Gabriel Janice Logan Jean Alan Alice Juan Madison Wayne Doris Roy
Abigail Ralph Julia Randy Grace Eugene Denise Vincent Amber Russell Marilyn Louis Beverly Philip
Danielle Sophia Liam Marie Lucas Diana Oliver Natalie Mason Hans Klaus Stefan Pierre Jean-Luc Marco
Giulia Luca Sofia Pablo Carmen Lars Ingrid Sven Katarzyna Piotr Raj Priya Arjun Ananya Vikram Deepa
Hiroshi Yuki Kenji Aiko Wei Mei Jun Ahmed Fatima Omar Layla Mohammed Ivan Olga Dmitri Anastasia Kwame
Amara Chidi Ngozi Mateo Valentina Diego Camila Lukas Lena Jonas Mia Finn Clara Niels Anke Pieter Sanne
Jan Eva Mary-Kate Rahul Sunita Tariq Aisha Yusuf Leila Hamza Nadia Carlos Lucia Andres Paula Felipe
Isabel Matteo Chiara Alessandro Francesca Emil Freja Oskar Astrid Tomasz Agnieszka Marek Zofia""".split()

LAST_ASCII = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez
Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams
Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz
Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson
Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray
Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins
Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Fisher Vasquez Simmons Romero Jordan
Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera
Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald
Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson
Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Hunt Hicks Holmes Palmer Wagner
Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson
Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Spencer Hawkins Arnold Pierce Hansen Peters
Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Ray
Berry Perkins Hoffman Johnston Matthews Richards Contreras Willis Carpenter Lawrence Sandoval O'Brien
O'Connor McCarthy Schneider Fischer Weber Becker Schulz Koch Richter Klein Wolf Neumann Schwarz Braun
Zimmermann Hartmann Krueger Lange Werner Krause Lehmann Kaiser Dubois Moreau Laurent Simon Michel
Lefebvre Leroy Roux Bertrand Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco
Bakker Janssen Visser Smit Meijer Mulder Jansen Nielsen Jensen Larsen Andersen Pedersen Johansson
Karlsson Nilsson Eriksson Larsson Olsson Persson Kowalski Nowak Kaminski Lewandowski Zielinski Sharma
Singh Kumar Gupta Reddy Iyer Nair Mehta Shah Joshi Rao Tanaka Suzuki Takahashi Watanabe Ito Yamamoto
Nakamura Kobayashi Wang Zhang Liu Yang Huang Zhao Wu Zhou Park Choi Jung Kang Ivanov Smirnov Kuznetsov
Popov Sokolov Okafor Mensah Adeyemi Hassan Ali Khan Ibrahim Mahmoud Cohen Levi Friedman Smith-Jones
Garcia-Lopez Taylor-Reed Fitzgerald MacLeod Kowalczyk Novak Horvat Kovac Papadopoulos Georgiou
Bauer Vogel Frank Berger Winkler Lorenz Baumann Franke Albrecht Ludwig Fuchs Keller Brandt Haas Graf
Schubert Vos Dekker Brouwer Hendriks Lindberg Lindqvist Berg Holm Dahl Moller Costa Oliveira Pereira
Rodrigues Almeida Carvalho Ribeiro Martins Barbosa Araujo Kapoor Malhotra Chopra Bose Das Pillai""".split()
LAST_ASCII += ["de Vries", "van den Berg", "van Dijk", "de Jong", "de la Cruz", "Van Buren", "St. Clair", "Da Silva"]

FIRST_INTL = """José María Zoë Søren Łukasz François Jürgen Ángel Bjørn Małgorzata Renée Chloé Göran Agnès
Hélène Noémie Inês João Sebastián Núria Tomáš Zoltán Dóra Ștefan Ólafur Jiří Åsa Ørjan Ewa Paweł
Wojciech Bartłomiej Zdeněk Anaïs Mélanie Léa Thérèse René Raúl Jesús Andrés Mónica Ramón Iñaki Begoña
Björn Jörg Günter Käthe Müge Çağlar Gülşen İlkay Ünal Søs Mårten Håkan Maël Joël Siân Dafydd Eoghan
Seán Niamh Aoife Caoimhín Kristýna Lukáš Ondřej Mateusz Jędrzej Grzegorz Žiga Mirjana Đorđe Nikša""".split()

def _intl_last() -> list[str]:
    raw = """Müller|García|Gómez|Jørgensen|Wójcik|Dvořák|Novák|Šimek|Håkansson|Öztürk|Çelik|Yılmaz|Núñez|
Peña|Løvland|Schröder|Groß|Weiß|Gonçalves|Lefèvre|Bérubé|Kovács|Szabó|Tóth|Ólafsdóttir|Þórsson|
Søndergaard|Bäcker|Köhler|Krüger|Jäger|Böhm|Hübner|Fernández|Martínez|Sánchez|Pérez|López|Rodríguez|
Jiménez|Álvarez|Muñoz|Ibáñez|Castaño|Lévesque|Côté|Gagné|Béland|Nováková|Svoboda|Černý|Procházková|
Kučera|Zieliński|Wiśniewski|Dąbrowski|Kamiński|Lewandowska|Kozłowski|Łuczak|Nyström|Åkesson|Ström|
Lindström|Sjöberg|Nordström|Ødegaard|Åberg|Østergaard|Mäkinen|Järvinen|Häkkinen|Kärkkäinen|Ó Briain|
Ní Dhomhnaill|Ó Súilleabháin|Jovanović|Petrović|Đorđević|Horváth|Şahin|Doğan|Aydın|von Bülow|de la Peña"""
    return [w.strip() for w in raw.replace("\n", "").split("|") if w.strip()]


LAST_INTL = _intl_last()

# East Asian names: (family, given, ascii family, ascii given); displayed family+given, no space.
CJK = [
    ("李", "伟", "li", "wei"), ("王", "芳", "wang", "fang"), ("张", "伟", "zhang", "wei"),
    ("刘", "洋", "liu", "yang"), ("陈", "静", "chen", "jing"), ("杨", "磊", "yang", "lei"),
    ("黄", "敏", "huang", "min"), ("赵", "丽", "zhao", "li"), ("周", "杰", "zhou", "jie"),
    ("吴", "强", "wu", "qiang"), ("徐", "秀英", "xu", "xiuying"), ("孙", "志强", "sun", "zhiqiang"),
    ("田中", "太郎", "tanaka", "taro"), ("佐藤", "花子", "sato", "hanako"), ("鈴木", "一郎", "suzuki", "ichiro"),
    ("高橋", "健", "takahashi", "ken"), ("渡辺", "美咲", "watanabe", "misaki"), ("伊藤", "翔", "ito", "sho"),
    ("김", "민준", "kim", "minjun"), ("이", "서연", "lee", "seoyeon"), ("박", "지훈", "park", "jihun"),
    ("최", "수빈", "choi", "subin"), ("정", "예은", "jung", "yeeun"),
]
# Cyrillic, Greek, Arabic, Hebrew: (given, family, ascii given, ascii family); "given family".
OTHER_SCRIPTS = [
    ("Иван", "Петров", "ivan", "petrov"), ("Ольга", "Смирнова", "olga", "smirnova"),
    ("Дмитрий", "Иванов", "dmitry", "ivanov"), ("Анна", "Кузнецова", "anna", "kuznetsova"),
    ("Олександр", "Шевченко", "oleksandr", "shevchenko"), ("Наталья", "Попова", "natalya", "popova"),
    ("Сергей", "Соколов", "sergey", "sokolov"), ("Екатерина", "Волкова", "ekaterina", "volkova"),
    ("Γιώργος", "Παπαδόπουλος", "giorgos", "papadopoulos"), ("Μαρία", "Νικολάου", "maria", "nikolaou"),
    ("Δημήτρης", "Γεωργίου", "dimitris", "georgiou"), ("محمد", "علي", "mohammed", "ali"),
    ("فاطمة", "حسن", "fatima", "hassan"), ("דוד", "כהן", "david", "cohen"), ("נועה", "לוי", "noa", "levi"),
]
NICKS = {"Robert": "Bob", "William": "Bill", "Katherine": "Kate", "Elizabeth": "Liz", "James": "Jim",
         "Michael": "Mike", "Thomas": "Tom", "Richard": "Dick", "Margaret": "Peggy", "Joseph": "Joe",
         "Anthony": "Tony", "Christopher": "Chris", "Jennifer": "Jen", "Patricia": "Pat", "Samuel": "Sam"}

_TRANSLIT = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ø": "o", "Ø": "O",
             "æ": "ae", "Æ": "Ae", "å": "a", "Å": "A", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th",
             "Þ": "Th", "ð": "d", "ı": "i", "İ": "I", "œ": "oe", "Œ": "Oe"}


def local_of(name: str) -> str:
    """ASCII local-part fragment for a (possibly accented Latin) name: 'Ó Súilleabháin' -> 'osuilleabhain'."""
    s = "".join(_TRANSLIT.get(ch, ch) for ch in name)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if ch.isascii() and (ch.isalnum() or ch == "-"))
    return s.lower()


def slug(s: str) -> str:
    out, dash = [], False
    for ch in s.lower():
        if ch.isascii() and ch.isalnum():
            out.append(ch)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    return "".join(out).strip("-")


# Pools of (display, ascii) pairs.
P_FIRST = [(n, local_of(n)) for n in FIRST_ASCII]
P_LAST = [(n, local_of(n)) for n in LAST_ASCII]
P_FIRST_I = [(n, local_of(n)) for n in FIRST_INTL if not n.isascii()]
P_LAST_I = [(n, local_of(n)) for n in LAST_INTL if not n.isascii()]
for _p in (P_FIRST, P_LAST, P_FIRST_I, P_LAST_I):
    assert all(a for _, a in _p), _p
    assert len({a for _, a in _p}) > 0

# Group name material.
CODENAMES = """Phoenix Atlas Orion Nimbus Falcon Aurora Horizon Titan Vega Polaris Mercury Apollo Zephyr
Cobalt Quasar Nova Helix Summit Voyager Meridian Everest Kestrel Lynx Sequoia Tundra Basalt Comet
Granite Harbor Ion Juniper Kodiak Lumen Mosaic Nebula Onyx Pioneer Quartz Raven Sierra Topaz Umbra
Vertex Willow Xenon Yukon Zenith""".split()
TEAMS = ["Team", "Leads", "Managers", "Announcements", "Social", "On-Call", "Interest", "Committee",
         "Champions", "Newsletter", "Reviewers", "Alumni"]
APPS = ["SAP", "Salesforce", "Jira", "Confluence", "GitHub", "VPN", "Citrix", "Workday", "ServiceNow",
        "Tableau", "SharePoint", "Teams", "Okta", "AWS", "Azure", "Oracle", "Printers", "WiFi", "Badge"]
ROLES = ["Users", "Admins", "ReadOnly", "Editors", "Approvers", "Owners", "Contributors"]
STREET_NO_MAX = 400
OS_LIST = [("Windows 11 Enterprise", "10.0 (22631)"), ("Windows 10 Enterprise", "10.0 (19045)"),
           ("Windows Server 2022 Datacenter", "10.0 (20348)"), ("Windows 11 Enterprise", "10.0 (26100)")]

# ---------------------------------------------------------------------------------------------
# LDIF encoding helpers
# ---------------------------------------------------------------------------------------------

FOLD = 76  # maximum line length in bytes; continuation lines are " " + 75 bytes


def b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def enc(value: str) -> str:
    """': value' or ':: base64' (RFC 2849 SAFE-STRING rules; ldifde base64s any non-ASCII)."""
    if value.isascii() and value and value[0] not in " :<" and value[-1] != " " and \
            "\n" not in value and "\r" not in value and "\0" not in value:
        return ": " + value
    return ":: " + b64(value.encode("utf-8"))


def fold(line: str) -> str:
    # All output lines are ASCII (non-ASCII values are base64), so len() is the byte length.
    parts = [line[:FOLD]]
    for k in range(FOLD, len(line), FOLD - 1):
        parts.append(" " + line[k:k + FOLD - 1])
    return "\r\n".join(parts)


def dn_escape(rdn_value: str) -> str:
    out = rdn_value.replace("\\", "\\\\")
    for ch in ',+"<>;=':
        out = out.replace(ch, "\\" + ch)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def sid_bytes(rid: int) -> bytes:
    rev, auth, *subs = DOMAIN_SID
    return struct.pack("<BB", rev, len(subs) + 1) + auth.to_bytes(6, "big") + \
        struct.pack("<" + "I" * (len(subs) + 1), *subs, rid)


SID_PREFIX = sid_bytes(0)[:-4]


def gen_time(r) -> str:
    """whenCreated: yyyymmddHHMMSS.0Z between 2006 and 2024."""
    return "%04d%02d%02d%02d%02d%02d.0Z" % (2006 + int(r() * 19), 1 + int(r() * 12), 1 + int(r() * 28),
                                             int(r() * 24), int(r() * 60), int(r() * 60))


def gen_changed(r) -> str:
    """whenChanged: in the first half of 2025, so always after whenCreated (the export is 'now')."""
    return "2025%02d%02d%02d%02d%02d.0Z" % (1 + int(r() * 6), 1 + int(r() * 28), int(r() * 24),
                                             int(r() * 60), int(r() * 60))


# ---------------------------------------------------------------------------------------------
# Phase 1: the directory model (sequential, cheap; shared by the LDIF and the CSV)
# ---------------------------------------------------------------------------------------------

class Model:
    pass


def pick_domain(x: float) -> int:
    return bisect.bisect_right(DOM_CUM, x) if x < 1.0 else len(DOM_CUM) - 1


def build_users(n: int, seed: int) -> Model:
    """Names, addresses, DNs of the N mailbox users, in file (OU) order."""
    m = Model()
    m.n = n
    rng = random.Random(f"dirgate-bench/{seed}/users")
    r = rng.random

    # OU blocks (site x department); users are laid out block by block, as ldifde walks the tree.
    blocks = [(s, d) for s in range(len(SITES)) for d in range(len(DEPTS))]
    weights = [SITES[s][7] * DEPTS[d][1] for s, d in blocks]
    sizes = [0] * len(blocks)
    for b in rng.choices(range(len(blocks)), weights=weights, k=n):
        sizes[b] += 1
    m.blocks = blocks
    m.block_start = []
    acc = 0
    for sz in sizes:
        m.block_start.append(acc)
        acc += sz
    m.block_size = sizes

    nF, nL, nFI, nLI = len(P_FIRST), len(P_LAST), len(P_FIRST_I), len(P_LAST_I)
    nCJK, nOS = len(CJK), len(OTHER_SCRIPTS)
    hcount: dict[str, int] = {}  # first.last base -> uses (case-insensitive: bases are lower-case)
    lcount: dict[str, int] = {}  # flast / group local namespace (never contains a dot)
    users = [None] * n  # (given, sn, display, cn, dnenc, handle, flast, dom, plocal, aliases)
    dom_rcpt = [0] * len(DOM_NAMES)
    dom_alias = [0] * len(DOM_NAMES)
    n_alias = 0
    n_nonascii = n_comma = n_quote = 0
    i = 0
    for b, (s, d) in enumerate(blocks):
        ou_suffix = f",OU={DEPTS[d][0]},OU={SITES[s][0]},{AD_DN}"
        for _ in range(sizes[b]):
            x = r()
            style = 0  # 0 "First Last", 1 CJK "FamilyGiven"
            if x < 0.08:
                n_nonascii += 1
                y = r()
                if y < 0.30:
                    (gf, ga), (sf, sa) = P_FIRST_I[int(r() * nFI)], P_LAST[int(r() * nL)]
                elif y < 0.62:
                    (gf, ga), (sf, sa) = P_FIRST[int(r() * nF)], P_LAST_I[int(r() * nLI)]
                elif y < 0.75:
                    (gf, ga), (sf, sa) = P_FIRST_I[int(r() * nFI)], P_LAST_I[int(r() * nLI)]
                elif y < 0.90:
                    sf, gf, sa, ga = CJK[int(r() * nCJK)]
                    style = 1
                else:
                    gf, sf, ga, sa = OTHER_SCRIPTS[int(r() * nOS)]
            else:
                (gf, ga), (sf, sa) = P_FIRST[int(r() * nF)], P_LAST[int(r() * nL)]

            base = f"{ga}.{sa}"
            c = hcount.get(base, 0) + 1
            hcount[base] = c
            handle = base if c == 1 else f"{base}{c}"
            fb = (ga[0] + sa)[:16]
            c2 = lcount.get(fb, 0) + 1
            lcount[fb] = c2
            flast = fb if c2 == 1 else f"{fb}{c2}"

            if style == 1:
                plain = sf + gf
                display = cn = plain
            else:
                plain = f"{gf} {sf}"
                y = r()
                if y < 0.03:
                    display = cn = f"{sf}, {gf}"  # "Last, First" naming convention
                    n_comma += 1
                elif y < 0.034 and gf in NICKS:
                    display = f'{gf} "{NICKS[gf]}" {sf}'
                    cn = plain
                    n_quote += 1
                else:
                    display = cn = plain
            if c > 1:
                cn = f"{cn} ({c})"  # unique RDN
            dn = f"CN={dn_escape(cn)}{ou_suffix}"

            dom = pick_domain(r())
            if r() < 0.4:
                plocal = ".".join(p[:1].upper() + p[1:] for p in handle.split("."))
            else:
                plocal = handle
            # aliases: cloud (tenant) alias, flast@primary, handle@secondary domain
            y = r()
            k = 1 if y < 0.5 else (2 if y < 0.85 else 3)
            if dom == TENANT_IDX:
                a0 = 0  # example.com
            else:
                a0 = TENANT_IDX
            al = [(handle, a0)]
            if k >= 2:
                al.append((flast, dom))
            if k >= 3:
                sec = SECONDARY_OK[int(r() * len(SECONDARY_OK))]
                if sec == dom or sec == a0:
                    sec = next(j for j in SECONDARY_OK if j != dom and j != a0)
                al.append((handle, sec))
            for _, ad in al:
                dom_alias[ad] += 1
            n_alias += len(al)
            dom_rcpt[dom] += 1
            users[i] = (gf, sf, display, cn, enc(dn), handle, flast, dom, plocal, al)
            i += 1
    assert i == n
    m.users = users
    m.lcount = lcount
    m.dom_rcpt = dom_rcpt
    m.dom_alias = dom_alias
    m.n_alias = n_alias
    m.n_nonascii, m.n_comma, m.n_quote = n_nonascii, n_comma, n_quote
    return m


def build_groups(m: Model, seed: int) -> None:
    """Groups (distribution lists and security groups), their members, users' memberOf."""
    n = m.n
    rng = random.Random(f"dirgate-bench/{seed}/groups")
    r = rng.random
    target = max(2, n // 50)
    lcount = m.lcount
    names: set[str] = set()  # membership tests only; never iterated
    groups = []  # dicts; index = group id

    def site_of_user(u: int) -> int:
        b = bisect.bisect_right(m.block_start, u) - 1
        while m.block_size[b] == 0 and b > 0:
            b -= 1
        return m.blocks[b][0]

    def add_group(cn, site, members, mail, kind, desc):
        key = cn.lower()
        if key in names:
            k = 2
            while f"{key} {k}" in names:
                k += 1
            cn = f"{cn} {k}"
            key = cn.lower()
        names.add(key)
        ou = f"OU=Groups,{AD_DN}" if site < 0 else f"OU=Groups,OU={SITES[site][0]},{AD_DN}"
        g = {"cn": cn, "site": site, "dn": f"CN={dn_escape(cn)},{ou}", "members": members,
             "nested": [], "foreign": [], "kind": kind, "desc": desc, "mail": None, "dom": None}
        if mail:
            loc = slug(cn)
            if loc in lcount:
                loc = f"{loc}-g{len(groups)}"
                assert loc not in lcount
            lcount[loc] = 1
            g["mail"] = loc
            g["dom"] = pick_domain(r())
        groups.append(g)
        return g

    # 1. All Staff (global), up to 10000 members spread over the whole directory.
    k = min(n, 10000)
    add_group("All Staff", -1, sorted(rng.sample(range(n), k)), True, "dl", "Everyone in the company")
    # 2. One distribution list per populated (site, department) OU.
    budget = target - 1
    for b, (s, d) in enumerate(m.blocks):
        if budget <= int(target * 0.3):
            break
        sz, st = m.block_size[b], m.block_start[b]
        if sz < 2:
            continue
        k = min(sz, 2 + int(r() * 3000)) if sz > 3000 else sz
        mem = list(range(st, st + sz)) if k == sz else sorted(rng.sample(range(st, st + sz), k))
        add_group(f"{DEPTS[d][0]} {SITES[s][0]}", s, mem, True, "dl",
                  f"All {DEPTS[d][0]} staff in {SITES[s][0]}")
        budget -= 1
    # 3. Project / team lists and security groups with heavy-tailed sizes.
    while budget > 0:
        size = int(2 * rng.paretovariate(0.9))
        size = min(max(2, min(size, 3000)), n)
        span = min(n, max(size * 4, 64))
        start = int(r() * n)
        mem = sorted({(start + x) % n for x in rng.sample(range(span), size)})
        site = site_of_user(start)
        if r() < 0.70:
            y = r()
            if y < 0.5:
                cn = f"Project {CODENAMES[int(r() * len(CODENAMES))]} {TEAMS[int(r() * len(TEAMS))]}"
            elif y < 0.8:
                d = DEPTS[int(r() * len(DEPTS))][0]
                cn = f"{d} {SITES[site][0]} {TEAMS[int(r() * len(TEAMS))]}"
            else:
                cn = f"{CODENAMES[int(r() * len(CODENAMES))]} {TEAMS[int(r() * len(TEAMS))]}"
            kind = "dl" if r() < 0.85 else "msg"  # msg = mail-enabled security group
            add_group(cn, site, mem, True, kind, f"Distribution list for {cn}")
        else:
            cn = f"SG-{APPS[int(r() * len(APPS))]}-{ROLES[int(r() * len(ROLES))]}-{SITES[site][8]}"
            add_group(cn, site, mem, False, "sg", f"Access to {cn[3:]}")
        budget -= 1

    # Nested mail-enabled groups (resolve to the nested group's address) and members from a
    # trusted domain that is not in this export (stay unresolved DNs).
    mailg = [gi for gi, g in enumerate(groups) if g["mail"]]
    for gi, g in enumerate(groups):
        if g["mail"] and r() < 0.02 and len(mailg) > 1:
            for _ in range(1 + int(r() * 3)):
                other = mailg[int(r() * len(mailg))]
                if other != gi and other not in g["nested"]:
                    g["nested"].append(other)
        if g["kind"] == "sg" and r() < 0.05:
            for j in range(1 + int(r() * 2)):
                g["foreign"].append(f"CN=EMEA User {gi}-{j},OU=Users,{OTHER_DOMAIN_DN}")

    # users' memberOf (group ids), built from member lists
    member_of = [None] * n
    for gi, g in enumerate(groups):
        for u in g["members"]:
            lst = member_of[u]
            if lst is None:
                member_of[u] = [gi]
            else:
                lst.append(gi)
    for gi, g in enumerate(groups):
        g["dnenc"] = enc(g["dn"])
    m.groups = groups
    m.member_of = member_of


def build_others(m: Model, seed: int) -> None:
    """Computers, service accounts (no mail), mail contacts (external addresses)."""
    n = m.n
    rng = random.Random(f"dirgate-bench/{seed}/others")
    # computers per site, proportional to the site's users
    site_users = [0] * len(SITES)
    for b, (s, _) in enumerate(m.blocks):
        site_users[s] += m.block_size[b]
    m.computers = [max(1, u // 20) if u else 0 for u in site_users]
    m.n_svc = max(1, n // 500)
    nc = max(3, n // 1000)
    contacts = []
    seen: dict[str, int] = {}
    r = rng.random
    for j in range(nc):
        (gf, ga), (sf, sa) = P_FIRST[int(r() * len(P_FIRST))], P_LAST[int(r() * len(P_LAST))]
        dom = CONTACT_DOMAINS[int(r() * len(CONTACT_DOMAINS))]
        base = f"{ga}.{sa}@{dom}"
        c = seen.get(base, 0) + 1
        seen[base] = c
        addr = base if c == 1 else f"{ga}.{sa}{c}@{dom}"
        cn = f"{gf} {sf} (External)" if c == 1 else f"{gf} {sf} {c} (External)"
        contacts.append((gf, sf, cn, addr, dom))
    m.contacts = contacts


# ---------------------------------------------------------------------------------------------
# Phase 2: LDIF formatting (chunked; each chunk has its own RNG, so the output does not depend
# on the number of worker processes)
# ---------------------------------------------------------------------------------------------

M: Model | None = None  # set before forking workers
PROFILE = "full"


def _join(records: list[list[str]]) -> bytes:
    out = []
    for L in records:
        out.append("\r\n".join([x if len(x) <= FOLD else fold(x) for x in L]))
    # every record is preceded by an empty line, as ldifde writes it
    return ("\r\n" + "\r\n\r\n".join(out) + "\r\n").encode("ascii")


def fmt_users(a: int, b: int, seed: int) -> bytes:
    m = M
    full = PROFILE == "full"
    rng = random.Random(f"dirgate-bench/{seed}/ldif-users/{a}")
    r, rb = rng.random, rng.randbytes
    users, groups, member_of = m.users, m.groups, m.member_of
    doms = DOM_NAMES
    recs = []
    bi = bisect.bisect_right(m.block_start, a) - 1
    while m.block_size[bi] == 0:
        bi += 1
    for i in range(a, b):
        while i >= m.block_start[bi] + m.block_size[bi]:
            bi += 1
        s, d = m.blocks[bi]
        site, dept = SITES[s], DEPTS[d]
        gf, sf, display, cn, dnenc, handle, flast, dom, plocal, al = users[i]
        primary = f"{plocal}@{doms[dom]}"
        proxies = [f"proxyAddresses: SMTP:{primary}"]
        for loc, ad in al:
            proxies.append(f"proxyAddresses: smtp:{loc}@{doms[ad]}")
        mo = member_of[i]
        guid = b64(rb(16))
        if full:
            if r() < 0.5:
                proxies.append("proxyAddresses: " + X500_PREFIX + rb(16).hex() + "-" + flast)
            if r() < 0.6:
                proxies.append(f"proxyAddresses: SIP:{handle}@{doms[dom]}")
            rng.shuffle(proxies)  # AD returns multi-valued attributes in no particular order
            t1 = gen_time(r)
            usn = 12000 + i * 7 + int(r() * 5)
            L = [
                "dn" + dnenc,
                "changetype: add",
                "objectClass: top",
                "objectClass: person",
                "objectClass: organizationalPerson",
                "objectClass: user",
                "cn" + enc(cn),
                "sn" + enc(sf),
                "c: " + site[4],
                "l" + enc(site[1]),
                "st: " + site[2],
                "title: " + dept[2][int(r() * len(dept[2]))],
            ]
            if r() < 0.4:
                L.append(f"description: {dept[0]} - {site[0]}")
            L.append("postalCode: %s%02d" % (site[3], int(r() * 100)))
            if r() < 0.85:
                L.append("telephoneNumber: %s%04d" % (site[5], int(r() * 10000)))
            L.append("givenName" + enc(gf))
            L.append("distinguishedName" + dnenc)
            L.append("instanceType: 4")
            L.append("whenCreated: " + t1)
            L.append("whenChanged: " + gen_changed(r))
            L.append("displayName" + enc(display))
            L.append("uSNCreated: %d" % usn)
            if mo:
                for gi in mo:
                    L.append("memberOf" + groups[gi]["dnenc"])
            L.append("uSNChanged: %d" % (usn + 1000000 + int(r() * 900000)))
            L.append("department: " + dept[0])
            L.append("company: " + ORG)
            L.extend(proxies)
            if r() < 0.9:
                L.append("streetAddress" + enc("%s %d" % (site[6], 1 + int(r() * STREET_NO_MAX))))
            if i > m.block_start[bi]:  # manager: someone earlier in the same OU
                st = m.block_start[bi]
                L.append("manager" + users[st + int(r() * min(i - st, 25))][4])
            L.append("name" + enc(cn))
            L.append("objectGUID:: " + guid)
            L.append("userAccountControl: " + ("512" if r() < 0.97 else "66048"))
            L.append("objectSid:: " + b64(SID_PREFIX + struct.pack("<I", 1100 + i)))
            L.append("sAMAccountName: " + flast)
            L.append("sAMAccountType: 805306368")
            L.append(f"userPrincipalName: {handle}@{doms[dom]}")
            L.append("mail: " + primary)
            if r() < 0.6:
                L.append("mobile: %s%04d" % (site[5], int(r() * 10000)))
            L.append("showInAddressList: " + SHOW_IN_GAL)
            L.append("msExchMailboxGuid:: " + b64(rb(16)))
            L.append("legacyExchangeDN: " + LEGACY_PREFIX + rb(16).hex() + "-" + flast)
            if r() < 0.05:
                L.append("thumbnailPhoto:: " + b64(rb(200 + int(r() * 600))))
        else:
            L = [
                "dn" + dnenc,
                "changetype: add",
                "objectClass: top",
                "objectClass: person",
                "objectClass: organizationalPerson",
                "objectClass: user",
                "cn" + enc(cn),
                "sn" + enc(sf),
                "givenName" + enc(gf),
                "displayName" + enc(display),
            ]
            if r() < 0.6:
                proxies.append(f"proxyAddresses: SIP:{handle}@{doms[dom]}")
            rng.shuffle(proxies)
            L.extend(proxies)
            L.append("objectGUID:: " + guid)
            L.append("sAMAccountName: " + flast)
            L.append(f"userPrincipalName: {handle}@{doms[dom]}")
            L.append("mail: " + primary)
            if r() < 0.05:
                L.append("thumbnailPhoto:: " + b64(rb(200 + int(r() * 600))))
        recs.append(L)
    return _join(recs)


def fmt_groups(gids: list[int], seed: int) -> bytes:
    m = M
    full = PROFILE == "full"
    rng = random.Random(f"dirgate-bench/{seed}/ldif-groups/{gids[0]}")
    r, rb = rng.random, rng.randbytes
    users, groups = m.users, m.groups
    recs = []
    for gi in gids:
        g = groups[gi]
        L = ["dn" + g["dnenc"], "changetype: add", "objectClass: top", "objectClass: group", "cn" + enc(g["cn"])]
        if full:
            L.append("description" + enc(g["desc"]))
        for u in g["members"]:
            L.append("member" + users[u][4])
        for o in g["nested"]:
            L.append("member" + groups[o]["dnenc"])
        for f in g["foreign"]:
            L.append("member" + enc(f))
        if full:
            L.append("distinguishedName" + g["dnenc"])
            L.append("instanceType: 4")
            L.append("whenCreated: " + gen_time(r))
            L.append("whenChanged: " + gen_changed(r))
            if g["mail"]:
                L.append("displayName" + enc(g["cn"]))
            L.append("uSNCreated: %d" % (5000 + gi * 3))
            L.append("uSNChanged: %d" % (9000000 + gi * 3))
        L.append("name" + enc(g["cn"]))
        L.append("objectGUID:: " + b64(rb(16)))
        if full:
            L.append("objectSid:: " + b64(SID_PREFIX + struct.pack("<I", 5000000 + gi)))
        sam = g["mail"] or slug(g["cn"])
        L.append("sAMAccountName: " + sam[:64])
        if full:
            L.append("sAMAccountType: " + ("268435457" if g["kind"] == "dl" else "268435456"))
        L.append("groupType: " + {"dl": "8", "msg": "-2147483640", "sg": "-2147483646"}[g["kind"]])
        if full:
            L.append("objectCategory: " + OBJCAT_GROUP)
        if g["mail"]:
            loc, dom = g["mail"], g["dom"]
            prim = f"{loc}@{DOM_NAMES[dom]}"
            px = [f"proxyAddresses: SMTP:{prim}"]
            if dom != TENANT_IDX:
                px.append(f"proxyAddresses: smtp:{loc}@{TENANT}")
            if full and r() < 0.3:
                px.append("proxyAddresses: " + X500_PREFIX + rb(16).hex() + "-" + loc)
            L.extend(px)
            L.append("mail: " + prim)
            if full:
                L.append("showInAddressList: " + SHOW_IN_GAL)
                L.append("legacyExchangeDN: " + LEGACY_PREFIX + rb(16).hex() + "-" + loc)
        recs.append(L)
    return _join(recs)


def fmt_computers(s: int, a: int, b: int, seed: int) -> bytes:
    full = PROFILE == "full"
    rng = random.Random(f"dirgate-bench/{seed}/ldif-computers/{s}/{a}")
    r, rb = rng.random, rng.randbytes
    site = SITES[s]
    recs = []
    for j in range(a, b):
        kind = "WS" if j % 3 else "LT"
        if j % 97 == 0:
            kind = "SRV"
        name = f"{kind}-{site[8]}-{j:05d}"
        dn = f"CN={name},OU=Computers,OU={site[0]},{AD_DN}"
        osn, osv = OS_LIST[2] if kind == "SRV" else OS_LIST[int(r() * 2) * 3 % 4]
        L = ["dn: " + dn, "changetype: add", "objectClass: top", "objectClass: person",
             "objectClass: organizationalPerson", "objectClass: user", "objectClass: computer",
             "cn: " + name]
        if full:
            L += ["distinguishedName: " + dn, "instanceType: 4", "whenCreated: " + gen_time(r),
                  "whenChanged: " + gen_changed(r), "uSNCreated: %d" % (20000000 + j),
                  "uSNChanged: %d" % (30000000 + j)]
        L += ["name: " + name, "objectGUID:: " + b64(rb(16)),
              "userAccountControl: " + ("532480" if kind == "SRV" else "4096")]
        if full:
            L += ["objectSid:: " + b64(SID_PREFIX + struct.pack("<I", 8000000 + s * 100000 + j)),
                  "sAMAccountName: " + name + "$", "sAMAccountType: 805306369",
                  "objectCategory: " + OBJCAT_COMPUTER, "operatingSystem: " + osn,
                  "operatingSystemVersion: " + osv, f"dNSHostName: {name.lower()}.{AD_DNS}",
                  f"servicePrincipalName: HOST/{name.lower()}.{AD_DNS}", f"servicePrincipalName: HOST/{name}",
                  f"servicePrincipalName: RestrictedKrbHost/{name.lower()}.{AD_DNS}"]
        else:
            L.append("sAMAccountName: " + name + "$")
        recs.append(L)
    return _join(recs)


def fmt_tail(seed: int) -> bytes:
    """Contacts and service accounts."""
    m = M
    full = PROFILE == "full"
    rng = random.Random(f"dirgate-bench/{seed}/ldif-tail")
    r, rb = rng.random, rng.randbytes
    recs = [[f"dn: OU=Contacts,{AD_DN}", "changetype: add", "objectClass: top",
             "objectClass: organizationalUnit", "ou: Contacts", "name: Contacts"]]
    for gf, sf, cn, addr, _ in m.contacts:
        dn = f"CN={dn_escape(cn)},OU=Contacts,{AD_DN}"
        L = ["dn" + enc(dn), "changetype: add", "objectClass: top", "objectClass: person",
             "objectClass: organizationalPerson", "objectClass: contact", "cn" + enc(cn), "sn" + enc(sf),
             "givenName" + enc(gf), "displayName" + enc(cn)]
        if full:
            L += ["distinguishedName" + enc(dn), "instanceType: 4", "whenCreated: " + gen_time(r)]
        L += ["proxyAddresses: SMTP:" + addr, "targetAddress: SMTP:" + addr, "name" + enc(cn),
              "objectGUID:: " + b64(rb(16)), "mail: " + addr, "mailNickname: " + slug(cn)]
        if full:
            L += ["showInAddressList: " + SHOW_IN_GAL,
                  "legacyExchangeDN: " + LEGACY_PREFIX + rb(16).hex() + "-" + slug(cn)]
        recs.append(L)
    recs.append([f"dn: OU=Service Accounts,{AD_DN}", "changetype: add", "objectClass: top",
                 "objectClass: organizationalUnit", "ou: Service Accounts", "name: Service Accounts"])
    for j in range(m.n_svc):
        name = f"svc-{APPS[j % len(APPS)].lower()}-{j:04d}"
        dn = f"CN={name},OU=Service Accounts,{AD_DN}"
        L = ["dn: " + dn, "changetype: add", "objectClass: top", "objectClass: person",
             "objectClass: organizationalPerson", "objectClass: user", "cn: " + name,
             "description: Service account for " + APPS[j % len(APPS)]]
        if full:
            L += ["distinguishedName: " + dn, "instanceType: 4", "whenCreated: " + gen_time(r)]
        L += ["name: " + name, "objectGUID:: " + b64(rb(16)), "userAccountControl: 66048",
              "sAMAccountName: " + name[:20], f"userPrincipalName: {name}@{AD_DNS}"]
        recs.append(L)
    return _join(recs)


def ou_record(dn: str, ou: str, full: bool) -> list[str]:
    L = ["dn: " + dn, "changetype: add", "objectClass: top", "objectClass: organizationalUnit", "ou: " + ou]
    if full:
        L += ["distinguishedName: " + dn, "instanceType: 4", "whenCreated: 20080115093000.0Z",
              "whenChanged: 20230601120000.0Z"]
    L += ["name: " + ou]
    return L


def fmt_raw(records: list[list[str]]) -> bytes:
    return _join(records)


def run_task(task):
    kind = task[0]
    if kind == "users":
        return fmt_users(*task[1:])
    if kind == "groups":
        return fmt_groups(*task[1:])
    if kind == "computers":
        return fmt_computers(*task[1:])
    if kind == "tail":
        return fmt_tail(*task[1:])
    return fmt_raw(task[1])


def ldif_tasks(m: Model, seed: int, chunk: int) -> tuple[list, int]:
    """The file as an ordered list of tasks; returns (tasks, number of OU/domain entries)."""
    full = PROFILE == "full"
    tasks = []
    n_ou = 0
    root = ["dn: " + AD_DN, "changetype: add", "objectClass: top", "objectClass: domain",
            "objectClass: domainDNS", "distinguishedName: " + AD_DN, "instanceType: 5",
            "whenCreated: 20080115090000.0Z", "name: corp", "dc: corp"]
    head = [root, ou_record(f"OU=Groups,{AD_DN}", "Groups", full)]
    n_ou += 1  # the root is counted separately
    tasks.append(("raw", head))
    site_groups: dict[int, list[int]] = {}
    for gi, g in enumerate(m.groups):
        site_groups.setdefault(g["site"], []).append(gi)
    for lo in range(0, len(site_groups.get(-1, [])), 500):
        tasks.append(("groups", site_groups[-1][lo:lo + 500], seed))
    for s in range(len(SITES)):
        site = SITES[s]
        sdn = f"OU={site[0]},{AD_DN}"
        tasks.append(("raw", [ou_record(sdn, site[0], full)]))
        n_ou += 1
        for b, (bs, d) in enumerate(m.blocks):
            if bs != s:
                continue
            tasks.append(("raw", [ou_record(f"OU={DEPTS[d][0]},{sdn}", DEPTS[d][0], full)]))
            n_ou += 1
            st, sz = m.block_start[b], m.block_size[b]
            for lo in range(st, st + sz, chunk):
                tasks.append(("users", lo, min(st + sz, lo + chunk), seed))
        tasks.append(("raw", [ou_record(f"OU=Groups,{sdn}", "Groups", full)]))
        n_ou += 1
        gl = site_groups.get(s, [])
        for lo in range(0, len(gl), 500):
            tasks.append(("groups", gl[lo:lo + 500], seed))
        tasks.append(("raw", [ou_record(f"OU=Computers,{sdn}", "Computers", full)]))
        n_ou += 1
        nc = m.computers[s]
        for lo in range(0, nc, chunk):
            tasks.append(("computers", s, lo, min(nc, lo + chunk), seed))
    tasks.append(("tail", seed))
    n_ou += 2  # Contacts, Service Accounts
    return tasks, n_ou


# ---------------------------------------------------------------------------------------------
# Counts (what a validator should report), computed from the model
# ---------------------------------------------------------------------------------------------

def ldif_counts(m: Model, n_ou: int) -> dict:
    n = m.n
    groups = m.groups
    mail_groups = [g for g in groups if g["mail"]]
    g_alias = sum(1 for g in mail_groups if g["dom"] != TENANT_IDX)
    dom = {d: {"domain": d, "recipients": 0, "aliases": 0, "groups": 0} for d in DOM_NAMES}
    for j, d in enumerate(DOM_NAMES):
        dom[d]["recipients"] = m.dom_rcpt[j]
        dom[d]["aliases"] = m.dom_alias[j]
    for g in mail_groups:
        dom[DOM_NAMES[g["dom"]]]["groups"] += 1
        if g["dom"] != TENANT_IDX:
            dom[TENANT]["aliases"] += 1
    ext = {}
    for c in m.contacts:
        ext.setdefault(c[4], {"domain": c[4], "recipients": 0, "aliases": 0, "groups": 0})["recipients"] += 1
    n_comp = sum(m.computers)
    skipped = 1 + n_ou + n_comp + m.n_svc
    user_members = sum(len(g["members"]) for g in groups)
    nested = sum(len(g["nested"]) for g in groups)
    foreign = sum(len(g["foreign"]) for g in groups)
    aliases = m.n_alias + g_alias
    used = [x for x in dom.values() if x["recipients"] or x["aliases"] or x["groups"]]
    all_domains = sorted(used + list(ext.values()), key=lambda x: x["domain"])
    return {
        "records": {
            "entries": 1 + n_ou + n + len(groups) + n_comp + len(m.contacts) + m.n_svc,
            "users": n, "groups": len(groups), "mail_enabled_groups": len(mail_groups),
            "groups_without_address": len(groups) - len(mail_groups),
            "contacts": len(m.contacts), "computers": n_comp, "service_accounts": m.n_svc,
            "organizational_units": n_ou, "domain_roots": 1,
            "user_aliases": m.n_alias, "group_aliases": g_alias,
            "member_values": user_members + nested + foreign,
            "members_users": user_members, "members_nested_groups": nested,
            "members_unresolved": foreign,
            "non_ascii_names": m.n_nonascii, "comma_names": m.n_comma, "quoted_names": m.n_quote,
        },
        # Every domain treated as managed (no managed-domain filter).
        "counts": {"recipients": n + len(m.contacts), "aliases": aliases, "groups": len(groups),
                   "skipped": skipped, "unmanaged": 0},
        "domains": all_domains,
        # With exactly MANAGED_DOMAINS managed: the contacts' external addresses are unmanaged.
        "managed_domains": sorted(DOM_NAMES),
        "counts_managed": {"recipients": n, "aliases": aliases, "groups": len(groups),
                           "skipped": skipped, "unmanaged": len(m.contacts)},
        "domains_managed": sorted(used, key=lambda x: x["domain"]),
        "notes": [
            "aliases are counted under the domain of the alias address",
            "groups without an address count in counts.groups but in no domain",
            "skipped = domain root + OUs + computers + service accounts (entries with no address)",
            "members_unresolved are member DNs of a trusted domain that is not in the file (info diagnostics)",
        ],
    }


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def params_of(kind: str, n: int, seed: int, profile: str | None) -> dict:
    p = {"generator": "tests/bench/gen_data.py", "gen_version": GEN_VERSION, "kind": kind,
         "seed": seed, "users": n}
    if profile:
        p["profile"] = profile
    return p


def up_to_date(path: str, cpath: str, params: dict) -> dict | None:
    try:
        with open(cpath, encoding="utf-8") as f:
            c = json.load(f)
        if c.get("params") == params and os.path.getsize(path) == c.get("bytes"):
            return c
    except (OSError, ValueError):
        pass
    return None


def write_counts(cpath: str, counts: dict) -> None:
    tmp = cpath + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(counts, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, cpath)


def report(path: str, c: dict, status: str) -> None:
    mb = c["bytes"] / 1e6
    rec, cnt = c["records"], c["counts"]
    if c["params"]["kind"] == "ldif":
        cm = c["counts_managed"]
        print(f"{path}: {mb:.1f} MB, {status}; records: {rec['entries']} entries = {rec['users']} users, "
              f"{rec['groups']} groups ({rec['mail_enabled_groups']} mail-enabled), {rec['contacts']} contacts, "
              f"{rec['computers']} computers, {rec['service_accounts']} service accounts, "
              f"{rec['organizational_units']} OUs + 1 root skipped; "
              f"{rec['user_aliases'] + rec['group_aliases']} aliases, {rec['member_values']} member values; "
              f"expect recipients={cnt['recipients']} aliases={cnt['aliases']} groups={cnt['groups']} "
              f"skipped={cnt['skipped']} (managed-only: recipients={cm['recipients']} unmanaged={cm['unmanaged']})")
    else:
        print(f"{path}: {mb:.1f} MB, {status}; records: {rec['rows']} rows ({rec['non_ascii_names']} non-ASCII "
              f"names, {rec['quoted_names']} quoted); expect recipients={cnt['recipients']} aliases=0 groups=0")


def gen_csv(m: Model, path: str) -> dict:
    doms = DOM_NAMES
    tmp = path + ".tmp"
    nq = 0
    with open(tmp, "wb", buffering=1 << 20) as f:
        users = m.users
        for lo in range(0, m.n, 50000):
            rows = []
            for u in users[lo:lo + 50000]:
                name = u[2]
                if "," in name or '"' in name:
                    name = '"' + name.replace('"', '""') + '"'
                    nq += 1
                rows.append(f"{u[8]}@{doms[u[7]]},{name}\n")
            f.write("".join(rows).encode("utf-8"))
    os.replace(tmp, path)
    dom = [{"domain": d, "recipients": m.dom_rcpt[j], "aliases": 0, "groups": 0}
           for j, d in enumerate(doms) if m.dom_rcpt[j]]
    return {"records": {"rows": m.n, "non_ascii_names": m.n_nonascii, "quoted_names": nq},
            "counts": {"recipients": m.n, "aliases": 0, "groups": 0, "skipped": 0, "unmanaged": 0},
            "domains": sorted(dom, key=lambda x: x["domain"])}


def gen_ldif(m: Model, path: str, seed: int, jobs: int, chunk: int) -> dict:
    global M
    M = m
    tasks, n_ou = ldif_tasks(m, seed, chunk)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        if jobs > 1:
            import multiprocessing as mp
            ctx = mp.get_context("fork")
            with ctx.Pool(jobs) as pool:
                for data in pool.imap(run_task, tasks, chunksize=1):
                    f.write(data)
        else:
            for t in tasks:
                f.write(run_task(t))
    os.replace(tmp, path)
    return ldif_counts(m, n_ou)


def main(argv=None) -> int:
    global PROFILE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, required=True, help="number of mailbox users (e.g. 100000, 1000000)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="target/bench-data", help="output directory")
    ap.add_argument("--only", choices=["csv", "ldif"], help="generate only one of the files")
    ap.add_argument("--profile", choices=["full", "lean"], default="full",
                    help="LDIF attribute set: full (ldifde-like, ~1.9 KB per user record, ~2 GB for 1M users) "
                         "or lean (~0.6 KB per user record, ~0.73 GB for 1M users; written to "
                         "ad-N-lean.ldif). Addresses, groups and expected counts are identical")
    ap.add_argument("--force", action="store_true", help="regenerate even if up to date")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="worker processes for the LDIF (output does not depend on it)")
    ap.add_argument("--chunk", type=int, default=5000, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    n, seed = args.users, args.seed
    if n < 1:
        ap.error("--users must be >= 1")
    PROFILE = args.profile
    os.makedirs(args.out, exist_ok=True)

    want = []
    if args.only in (None, "ldif"):
        stem = f"ad-{n}" if PROFILE == "full" else f"ad-{n}-lean"
        want.append(("ldif", os.path.join(args.out, stem + ".ldif"), os.path.join(args.out, stem + ".counts.json"),
                     params_of("ldif", n, seed, PROFILE)))
    if args.only in (None, "csv"):
        want.append(("csv", os.path.join(args.out, f"users-{n}.csv"), os.path.join(args.out, f"users-{n}.counts.json"),
                     params_of("csv", n, seed, None)))

    todo = []
    for kind, path, cpath, params in want:
        c = None if args.force else up_to_date(path, cpath, params)
        if c:
            report(path, c, "up to date (use --force to regenerate)")
        else:
            todo.append((kind, path, cpath, params))
    if not todo:
        return 0

    t0 = time.perf_counter()
    m = build_users(n, seed)
    t_users = time.perf_counter() - t0
    print(f"model: {n} users built in {t_users:.1f}s", file=sys.stderr)
    for kind, path, cpath, params in todo:
        t1 = time.perf_counter()
        if kind == "csv":
            counts = gen_csv(m, path)
        else:
            if not hasattr(m, "groups"):
                build_groups(m, seed)
                build_others(m, seed)
            counts = gen_ldif(m, path, seed, args.jobs, args.chunk)
        dt = time.perf_counter() - t1
        out = {"params": params, "file": os.path.basename(path), "bytes": os.path.getsize(path), **counts}
        write_counts(cpath, out)
        report(path, out, f"generated in {dt + t_users:.1f}s")
        t_users = 0.0  # the model is shared; charge it to the first file only
    return 0


if __name__ == "__main__":
    sys.exit(main())
