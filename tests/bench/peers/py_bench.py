"""One measurement in Python: `python3 py_bench.py TOOL FILE` prints one JSON line {records, seconds}.

Tools: pypi-ldif (PyPI `ldif`, LDIFParser.parse()), python-ldap (its `ldif.LDIFParser`), csv
(the standard library's csv.reader). Both LDIF packages install a top-level module named `ldif`,
so the driver puts each in its own folder on PYTHONPATH (target/bench-py/<name>).
`seconds` is timed inside the process, from opening the file to the last record.
"""
import json
import sys
import time

tool, path = sys.argv[1], sys.argv[2]
started = time.perf_counter()
records = 0
if tool == "pypi-ldif":
    import ldif
    if hasattr(ldif, "LDIFRecordList"):
        sys.exit(f"{ldif.__file__} is python-ldap's ldif module, not PyPI's ldif")
    from ldif import LDIFParser
    with open(path, "rb") as f:
        for _dn, _entry in LDIFParser(f).parse():
            records += 1
elif tool == "python-ldap":
    try:
        import ldif
        ldif.LDIFRecordList  # only python-ldap's module has it; PyPI `ldif` does not
    except (ImportError, AttributeError) as error:
        print(json.dumps({"error": f"skipped: python-ldap is not installed ({error}); "
                                   "it needs libldap2-dev and libsasl2-dev to build"}))
        sys.exit(0)

    class Counter(ldif.LDIFParser):
        def handle(self, dn, entry):
            global records
            records += 1

    with open(path, "rb") as f:
        Counter(f).parse()
elif tool == "csv":
    import csv
    with open(path, newline="", encoding="utf-8") as f:
        for _row in csv.reader(f):
            records += 1
else:
    sys.exit(f"unknown tool {tool}")
print(json.dumps({"records": records, "seconds": time.perf_counter() - started}))
