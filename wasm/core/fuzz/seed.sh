#!/usr/bin/env bash
# Seeds the core's fuzz corpora (corpus/<target>/, gitignored) from the fixture corpus in
# tests/data: LDIF inputs for `ldif`, CSV inputs for `csv`, every input behind the all-zero
# eight-byte header (one auto-detected file, default options) for `chunked` and
# `differential`, and every address-like word of the fixtures for `address`. Running it again
# only refreshes the seeds; what the fuzzer added to the corpora stays.
set -euo pipefail
cd "$(dirname "$0")"
data=../../../tests/data
# Fixture inputs, not the expectation files beside them; a folder fixture's files are seeds one by one.
inputs() { find "$data/$1/ok" "$data/$1/err" -type f ! -name '*.expect.json' | sort; }
# A seed's name: the fixture's path below tests/data, flattened.
name() { local path=${1#"$data"/}; echo "${path//\//_}"; }

mkdir -p corpus/ldif corpus/csv corpus/chunked corpus/differential corpus/address
for format in ldif csv; do
    inputs "$format" | while read -r file; do
        cp "$file" "corpus/$format/$(name "$file")"
        for target in chunked differential; do
            { head -c 8 /dev/zero; cat "$file"; } >"corpus/$target/$(name "$file")"
        done
    done
done
{ inputs ldif; inputs csv; } | xargs grep -ohaE '[^][:space:],;:<>()=]*@[^][:space:],;:<>()=]*' | sort -u | head -n 500 |
    while IFS= read -r word; do
        printf '%s' "$word" >"corpus/address/$(printf '%s' "$word" | sha1sum | cut -c1-16)"
    done
echo "seeded: $(for t in corpus/*/; do printf '%s %s  ' "$(basename "$t")" "$(find "$t" -type f | wc -l)"; done)"
