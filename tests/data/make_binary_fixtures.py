#!/usr/bin/env python3
"""Write the fixtures whose exact bytes matter.

Text editors and git settings can silently change these files: they hold CRLF line ends,
byte-order marks, UTF-16, Windows-1252, trailing spaces, a missing final newline, NUL bytes
or random garbage. Their content lives here, and this script writes them again byte for
byte. It is deterministic: the garbage comes from a fixed seed, so a second run gives the
same bytes. The `.expect.json` files beside them are written by hand, not by this script.

Run it from anywhere: python3 tests/data/make_binary_fixtures.py
"""

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write(relative: str, data: bytes) -> None:
    path = HERE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def text(lines: list[str], eol: str = "\n", final_newline: bool = True) -> str:
    return eol.join(lines) + (eol if final_newline else "")


def cp1252(s: str) -> bytes:
    data = s.encode("cp1252")
    # Every line that holds a non-ASCII byte must be invalid UTF-8, or the core would read
    # that line as UTF-8 and the fixture would not test what its name says.
    for line in data.split(b"\n"):
        if any(b >= 0x80 for b in line):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                continue
            raise AssertionError(f"cp1252 line is also valid UTF-8: {line!r}")
    return data


UTF8_BOM = b"\xef\xbb\xbf"
UTF16LE_BOM = b"\xff\xfe"
UTF16BE_BOM = b"\xfe\xff"

# ---------------------------------------------------------------------------------------
# LDIF
# ---------------------------------------------------------------------------------------

write(
    "ldif/ok/0010_crlf.ldif",
    text(
        [
            "# Intent: CRLF line ends everywhere, including inside folded lines.",
            "version: 1",
            "",
            "dn: cn=Kim Park,ou=Regional Sales Team No",
            " rth,ou=people,dc=example,dc=com",
            "objectClass: inetOrgPerson",
            "cn: Kim Park",
            "sn: Park",
            "mail: kim.park@exam",
            " ple.com",
            "",
            "dn: cn=Sales North,ou=groups,dc=example,dc=com",
            "objectClass: groupOfNames",
            "cn: Sales North",
            "mail: sales-north@example.com",
            "member: cn=Kim Park,ou=Regional Sales Team North,ou=people,dc=example,dc=com",
        ],
        eol="\r\n",
    ).encode("ascii"),
)

write(
    "ldif/ok/0012_no_final_newline.ldif",
    text(
        [
            "# Intent: the last line has no newline; its value is still read.",
            "dn: cn=Ann Lee,ou=people,dc=example,dc=com",
            "objectClass: inetOrgPerson",
            "cn: Ann Lee",
            "sn: Lee",
            "mail: ann@example.com",
            "",
            "dn: cn=Ben Ode,ou=people,dc=example,dc=com",
            "objectClass: inetOrgPerson",
            "cn: Ben Ode",
            "sn: Ode",
            "mail: ben@example.com",
        ],
        final_newline=False,
    ).encode("ascii"),
)

# ldifde without -u on a Western-European Windows: ANSI (Windows-1252) bytes, CRLF, and a
# blank line after the last record. The dash and the oe ligature exist in Windows-1252 only.
write(
    "ldif/ok/0027_ldifde_ansi_cp1252.ldif",
    cp1252(
        text(
            [
                "# Intent: an ldifde ANSI export (Windows-1252 bytes, CRLF); members resolve.",
                "dn: CN=René Lefèvre,OU=Staff,DC=example,DC=com",
                "changetype: add",
                "objectClass: top",
                "objectClass: person",
                "objectClass: organizationalPerson",
                "objectClass: user",
                "cn: René Lefèvre",
                "sn: Lefèvre",
                "givenName: René",
                "displayName: René Lefèvre",
                "description: Responsable qualité – Genève",
                "mail: rene.lefevre@example.com",
                "proxyAddresses: SMTP:rene.lefevre@example.com",
                "proxyAddresses: smtp:rene@example.com",
                "",
                "dn: CN=Françoise Dubœuf,OU=Staff,DC=example,DC=com",
                "changetype: add",
                "objectClass: top",
                "objectClass: person",
                "objectClass: organizationalPerson",
                "objectClass: user",
                "cn: Françoise Dubœuf",
                "displayName: Françoise Dubœuf",
                "mail: francoise.duboeuf@example.com",
                "",
                "dn: CN=Équipe Genève,OU=Groups,DC=example,DC=com",
                "changetype: add",
                "objectClass: top",
                "objectClass: group",
                "cn: Équipe Genève",
                "mail: equipe-geneve@example.com",
                "member: CN=René Lefèvre,OU=Staff,DC=example,DC=com",
                "member: CN=Françoise Dubœuf,OU=Staff,DC=example,DC=com",
                "",
            ],
            eol="\r\n",
        )
    ),
)

# ldifde -u: UTF-16LE with a BOM, CRLF. Names outside Windows-1252 prove it is Unicode.
write(
    "ldif/ok/0028_ldifde_unicode_utf16le.ldif",
    UTF16LE_BOM
    + text(
        [
            "# Intent: an ldifde -u export (UTF-16LE with BOM, CRLF); members resolve.",
            "dn: CN=Łukasz Żuk,OU=Staff,DC=example,DC=com",
            "changetype: add",
            "objectClass: top",
            "objectClass: person",
            "objectClass: organizationalPerson",
            "objectClass: user",
            "cn: Łukasz Żuk",
            "displayName: Łukasz Żuk",
            "mail: lukasz.zuk@example.com",
            "proxyAddresses: SMTP:lukasz.zuk@example.com",
            "proxyAddresses: smtp:lukasz@example.com",
            "proxyAddresses: X500:/o=Example/ou=Exchange Administrative Group/cn=Recipients/cn=lzuk",
            "",
            "dn: CN=山田 太郎,OU=Staff,DC=example,DC=com",
            "changetype: add",
            "objectClass: top",
            "objectClass: person",
            "objectClass: organizationalPerson",
            "objectClass: user",
            "cn: 山田 太郎",
            "displayName: 山田 太郎",
            "mail: taro.yamada@example.com",
            "",
            "dn: CN=Zespół,OU=Groups,DC=example,DC=com",
            "changetype: add",
            "objectClass: top",
            "objectClass: group",
            "cn: Zespół",
            "member: CN=Łukasz Żuk,OU=Staff,DC=example,DC=com",
            "member: CN=山田 太郎,OU=Staff,DC=example,DC=com",
            "",
        ],
        eol="\r\n",
    ).encode("utf-16-le"),
)

write(
    "ldif/ok/0029_utf8_bom.ldif",
    UTF8_BOM
    + text(
        [
            "dn: cn=Zoë Martin,ou=people,dc=example,dc=com",
            "objectClass: inetOrgPerson",
            "cn: Zoë Martin",
            "sn: Martin",
            "mail: zoe.martin@example.com",
            "",
            "# Intent: a UTF-8 BOM (Notepad) right before the first dn: line.",
        ]
    ).encode("utf-8"),
)

# Trailing spaces are part of an LDIF value (RFC 2849); editors like to strip them.
write(
    "ldif/ok/0033_trailing_whitespace_value.ldif",
    text(
        [
            "# Intent: address values with trailing spaces are trimmed with a",
            '# surrounding-whitespace warning at the value\'s column (after ": ").',
            "dn: cn=Ann Lee,ou=people,dc=example,dc=com",
            "objectClass: inetOrgPerson",
            "objectClass: mailRecipient",
            "cn: Ann Lee",
            "sn: Lee",
            "mail: ann@example.com  ",
            "mailAlternateAddress: ann.lee@example.com ",
        ]
    ).encode("ascii"),
)

write("ldif/err/0109_empty_file.ldif", b"")

write(
    "ldif/err/0112_binary_after_records.ldif",
    text(
        [
            "# Intent: a NUL byte after two complete records: binary-file at its line,",
            "# the two records already read are kept, the rest of the file is ignored.",
            "dn: cn=Ann Lee,ou=people,dc=example,dc=com",
            "mail: ann@example.com",
            "",
            "dn: cn=Ben Ode,ou=people,dc=example,dc=com",
            "mail: ben@example.com",
            "",
            "dn: cn=Carl\x00\x00\x01\x02 Berg,ou=people,dc=example,dc=com",
            "mail: carl@example.com",
        ]
    ).encode("ascii"),
)

# ---------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------

write(
    "csv/ok/0501_email_only.csv",
    text(
        ["alice@example.com", "bob@example.com", "carol@example.com"],
        final_newline=False,
    ).encode("ascii"),
)

# German Excel "CSV (Trennzeichen-getrennt)": Windows-1252, semicolon, CRLF.
write(
    "csv/ok/0512_german_excel_semicolon_cp1252.csv",
    cp1252(
        text(
            [
                "E-Mail;Name",
                "hans.mueller@example.de;Hans Müller",
                "grete.mueller@example.de;Müller, Grete",
                ";",
                "jürgen@example.de;Jürgen Weiß",
                'fritz@example.de;"Fritz ""der Große"" Schäfer"',
            ],
            eol="\r\n",
        )
    ),
)

# Excel "Unicode Text (*.txt)": UTF-16LE with BOM, TAB, CRLF, no quoting.
write(
    "csv/ok/0513_excel_unicode_text_utf16le_tab.txt",
    UTF16LE_BOM
    + text(
        [
            "Email\tName",
            "anna@example.com\tAnna Schmidt",
            "bernd@example.com\tMüller, Bernd",
            "\t",
            "chen@example.com\t陈伟",
        ],
        eol="\r\n",
    ).encode("utf-16-le"),
)

# Excel "CSV UTF-8 (Comma delimited)": UTF-8 BOM, CRLF between rows, and a bare LF inside a
# quoted multi-line cell (which is what Excel writes).
write(
    "csv/ok/0514_excel_csv_utf8_bom_crlf.csv",
    UTF8_BOM
    + text(
        [
            "Email,Name",
            "anna@example.com,Anna Schmidt",
            'bernd@example.com,"Bernd\nMüller"',
            ",",
            "claire@example.com,Claire Dubois",
            'dora@example.com,"Dora ""DD"" Diaz"',
        ],
        eol="\r\n",
    ).encode("utf-8"),
)

# The anchor product's ANSI file: Windows-1252 accented names, smart quotes, dash and euro.
write(
    "csv/ok/0515_ansi_cp1252_accented_names.csv",
    cp1252(
        text(
            [
                "francois@example.com,François Dupré",
                "zoe@example.com,Zoë Œuvre-Lefèvre",
                "bob@example.com,\u201cBob\u201d Smith",
                "ana@example.com,Ana – Ventes € équipe",
            ]
        )
    ),
)

write(
    "csv/ok/0516_utf16be_bom.csv",
    UTF16BE_BOM
    + text(["anna@example.com,Anna Schmidt", "ben@example.com,Ben Ode"]).encode("utf-16-be"),
)

# Our own recipients.csv export: UTF-8 BOM, CRLF, RFC 4180 quoting, a neutralised cell.
write(
    "csv/ok/0517_export_recipients_bom_crlf.csv",
    UTF8_BOM
    + text(
        [
            "email,name",
            "alice@example.com,Alice Archer",
            'bob@example.com,"Builder, Bob"',
            "carol@example.com,",
            "dave@example.com,'=SUM(A1:A2)",
            'erin@example.com,"Erin ""E"" O\'Neil"',
        ],
        eol="\r\n",
    ).encode("utf-8"),
)

# The three export files dropped in together as one import.
EXPORT_FOLDER = "csv/ok/0520_export_folder"
write(
    f"{EXPORT_FOLDER}/recipients.csv",
    UTF8_BOM
    + text(
        [
            "email,name",
            "alice@example.com,Alice Archer",
            'bob@example.com,"Builder, Bob"',
            "carol@example.com,",
        ],
        eol="\r\n",
    ).encode("utf-8"),
)
write(
    f"{EXPORT_FOLDER}/aliases.csv",
    UTF8_BOM
    + text(
        [
            "alias,email",
            "sales@example.com,alice@example.com",
            "a.archer@example.com,alice@example.com",
            "bobby@example.com,bob@example.com",
        ],
        eol="\r\n",
    ).encode("utf-8"),
)
write(
    f"{EXPORT_FOLDER}/groups.csv",
    UTF8_BOM
    + text(
        [
            "group,email,member",
            "Sales Team,sales-team@example.com,alice@example.com",
            "Sales Team,sales-team@example.com,bob@example.com",
            "All Staff,,alice@example.com",
            "All Staff,,bob@example.com",
            "All Staff,,carol@example.com",
            '"Empty, Group",empty-group@example.com,',
        ],
        eol="\r\n",
    ).encode("utf-8"),
)

# Spaces around fields; the name field of line 4 ends in two spaces.
write(
    "csv/ok/0522_surrounding_spaces.csv",
    text(
        [
            " alice@example.com,Alice",
            "bob@example.com  ,Bob",
            "carol@example.com, Carol",
            "dave@example.com,Dave  ",
            "erin@example.com,Erin",
            "  frank@example.com , Frank ",
        ]
    ).encode("ascii"),
)

# UTF-8 file in which one line was pasted from a Windows-1252 source.
write(
    "csv/ok/0528_mixed_encoding.csv",
    "jose@example.com,José Pérez\n".encode("utf-8")
    + cp1252("marie@example.com,Marie-Hélène\n")
    + "ana@example.com,Ana\n".encode("utf-8"),
)

# The quote opened on line 2 never closes; the file has no final newline.
write(
    "csv/err/0604_unterminated_quote.csv",
    text(
        ["alice@example.com,Alice", 'bob@example.com,"Bob', "carol@example.com,Carol"],
        final_newline=False,
    ).encode("ascii"),
)

write("csv/err/0607_empty_0_bytes.csv", b"")

write("csv/err/0608_bom_only.csv", UTF8_BOM)

# 2 KiB of random bytes. The first line is forced to be ASCII control bytes with NULs, so
# the binary-file error is unambiguously on line 1 and no line is decoded before it.
rng = random.Random(20240115)
first_line = bytes([0x00, 0x01, 0x00, 0x00, 0x1F, 0x07, 0x00, 0x10, 0x00, 0x00, 0x02, 0x00, 0x7F, 0x00, 0x03, 0x00])
write(
    "csv/err/0609_binary_garbage.csv",
    first_line + b"\n" + bytes(rng.randrange(256) for _ in range(2048 - len(first_line) - 1)),
)

# A PNG-like header: the real signature's CR LF SUB LF bytes are replaced, so that the NUL
# bytes of the IHDR chunk length sit on line 1.
write(
    "csv/err/0610_png_like.csv",
    b"\x89PNG\x00\x00\x00\x0dIHDR\x00\x00\x00\x20\x00\x00\x00\x20\x08\x06\x00\x00\x00"
    + b"\n"
    + bytes(rng.randrange(256) for _ in range(200)),
)

# An .xlsx (ZIP) uploaded by mistake: a local file header whose first line is ASCII with
# NULs (the DOS time field starts with an LF byte), then the entry name and random data.
write(
    "csv/err/0611_xlsx_zip_like.csv",
    b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x0a\x00\x21\x58"
    + b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x13\x00\x00\x00"
    + b"[Content_Types].xml"
    + bytes(rng.randrange(256) for _ in range(300)),
)

# A UTF-16LE export that lost its BOM: NUL bytes on line 1 make it binary.
write(
    "csv/err/0612_utf16_without_bom.csv",
    text(["email,name", "ann@example.com,Ann"], eol="\r\n").encode("utf-16-le"),
)

write(
    "csv/err/0613_binary_after_rows.csv",
    text(
        [
            "alice@example.com,Alice",
            "bob@example.com,Bob",
            "carol@exa\x00mple.com,Carol",
            "dave@example.com,Dave",
        ]
    ).encode("ascii"),
)
