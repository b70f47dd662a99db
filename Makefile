# The two commands a new user needs are `make run` and `make test` (see README.md).
# Everything else here is plumbing for them, for CI and for benchmarks.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080
DB ?= dirgate.redb

# Several targets share their name with a folder (server, wasm): all of them are phony.
.PHONY: run test lint unit tools wasm server wasm-test typecheck e2e bench bench-data bench-server \
        bench-postfix bench-peers bench-peers-tools bench-all fuzz fuzz-smoke stress

## Build everything and run the server on its embedded redb file; it prints the URL and, on
## the first start, the operator's login.
run: server
	./target/release/dirgate serve --listen $(LISTEN) --db $(DB)

## Every check CI runs: formatting, lints, unit, fixture and end-to-end tests, then the
## crash and concurrency suites.
test: lint unit wasm-test typecheck e2e stress

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

## The browser's tools, project-local and gitignored: the wasm-bindgen CLI of exactly the version
## in Cargo.lock (in .tools/), and playwright-core, binaryen (wasm-opt) and typescript from
## tests/e2e/package-lock.json (in tests/e2e/node_modules/).
WASM_BINDGEN_VERSION = $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
WASM_BINDGEN = .tools/bin/wasm-bindgen
NODE_BIN = tests/e2e/node_modules/.bin
WASM_OUT = target/wasm32-unknown-unknown/release/dirgate_wasm.wasm
# Every wasm build (the UI's module and the wasm tests) uses WebAssembly SIMD, which every
# browser has shipped since 2023 (Chrome 91, Firefox 89, Safari 16.4): memchr and the core's
# scans run 15-20% faster with it than with scalar code (BENCHMARKS.md).
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS = -C target-feature=+simd128

tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@if [ "$$($(WASM_BINDGEN) --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
		$(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root .tools; \
	fi
	@if [ ! -x $(NODE_BIN)/wasm-opt ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; then \
		cd tests/e2e && npm ci --no-audit --no-fund; \
	fi

## The wasm layer for the UI: www/pkg/ (gitignored), which the server embeds when it is built.
wasm: tools
	$(CARGO) build --release --target wasm32-unknown-unknown -p dirgate-wasm
	$(WASM_BINDGEN) --target web --out-dir www/pkg $(WASM_OUT)
	$(NODE_BIN)/wasm-opt -Oz -o www/pkg/dirgate_wasm_bg.wasm www/pkg/dirgate_wasm_bg.wasm

## The server with the current www/ (and www/pkg/) embedded (server/build.rs rebuilds it when
## www/ changes).
server: wasm
	$(CARGO) build --release --bin dirgate

## The fixture corpus through the wasm build, in Node and in headless Chromium.
wasm-test: tools
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(CURDIR)/.tools/bin/wasm-bindgen-test-runner \
		$(CARGO) test --release --target wasm32-unknown-unknown -p dirgate-wasm --test node
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(CURDIR)/.tools/bin/wasm-bindgen-test-runner CHROMEDRIVER=/usr/bin/chromedriver \
		$(CARGO) test --release --target wasm32-unknown-unknown -p dirgate-wasm --test browser

## The UI's JavaScript, type-checked against www/types.d.ts.
typecheck: wasm
	$(NODE_BIN)/tsc -p www/jsconfig.json

## The UI in real Chromium against the real server (tests/e2e/).
e2e: server
	cd tests/e2e && node --test --test-concurrency=1 --test-timeout=600000

## kill -9 during 1M-recipient imports (20 trials), 8 writers against 64 readers for 60 s, and
## the hostile inputs, million-record cases included. They need optimised code: in the debug
## run of `make unit`, the million-record ones only print SKIPPED.
stress: server
	$(CARGO) test --release -p dirgate --test crash --test concurrency --test hostile -- --nocapture

## Benchmark data (generated, never committed) and the criterion benchmarks.
bench-data:
	python3 tests/bench/gen_data.py --users 100000 --out target/bench-data
	python3 tests/bench/gen_data.py --users 1000000 --out target/bench-data

bench: bench-data
	DIRGATE_BENCH_DATA=$(CURDIR)/target/bench-data $(CARGO) bench -p dirgate-core --bench validate

## The server's figures: 1M-recipient import, export throughput, recipient-check load (wrk).
bench-server:
	$(CARGO) build --release --bin dirgate
	python3 tests/bench/server_bench.py --users 1000000

## dirgate side by side with the parsers a user would otherwise pick (issue 7, BENCHMARKS.md):
## native, wasm in Node and in headless Chromium, Papa Parse, csv-parse, npm ldif, PyPI ldif,
## python-ldap, wc -l, grep -c @ and the csv crate's raw loop, on 100k and 1M users. One table.
## BENCH_PEERS_ARGS="--csv-users 100000 --ldif-users 100000 --runs 1" is the CI smoke version.
BENCH_PEERS_ARGS ?= --csv-users 100000,1000000 --ldif-users 100000,1000000 --runs 3
BENCH_PY = target/bench-py

bench-peers-tools:
	@if [ ! -d tests/bench/peers/node_modules ] || [ tests/bench/peers/package-lock.json -nt tests/bench/peers/node_modules/.package-lock.json ]; then \
		cd tests/bench/peers && npm ci --no-audit --no-fund; \
	fi
	@test -f $(BENCH_PY)/ldif/ldif.py || python3 -m pip install -q --target $(BENCH_PY)/ldif -r tests/bench/peers/requirements-ldif.txt
	@test -f $(BENCH_PY)/python-ldap/ldif.py || python3 -m pip install -q --target $(BENCH_PY)/python-ldap -r tests/bench/peers/requirements-python-ldap.txt \
		|| echo "python-ldap did not build (it needs libldap2-dev and libsasl2-dev): its rows are skipped"

bench-peers: wasm bench-peers-tools
	$(CARGO) build --release --bin dirgate
	python3 tests/bench/peers.py $(BENCH_PEERS_ARGS)

## The whole table and the server's figures, with one command.
bench-all: bench-peers bench-server

## The whole SMTP path: Postfix with dirgate's policy service against a static recipient table.
bench-postfix:
	$(CARGO) test --release -p dirgate --test policy -- --ignored --nocapture bench_postfix

## Fuzzing: every cargo-fuzz target of the core (wasm/core/fuzz/) and of the server
## (server/fuzz/), one at a time, after seeding the corpora from the fixtures (nightly toolchain
## and cargo-fuzz required). `fuzz` is the long run; `fuzz-smoke` is CI's short one, which fails
## on any crash, assertion or hang (over 20 s for one input). FUZZ_CRATES runs a subset. Inputs
## are at most 16 KiB (addresses 512 bytes): larger ones only slow the search down.
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_CRATES ?= wasm/core server
define fuzz_all
	wasm/core/fuzz/seed.sh
	for crate in $(FUZZ_CRATES); do \
		targets=$$(cd $$crate/fuzz && cargo +nightly fuzz list) || exit 1; \
		for t in $$targets; do \
			mkdir -p $$crate/fuzz/corpus/$$t; \
			len=16384; [ $$t != address ] || len=512; \
			seeds=$$(test -d $$crate/fuzz/seeds/$$t && echo seeds/$$t); \
			(cd $$crate/fuzz && cargo +nightly fuzz run $$t corpus/$$t $$seeds -- -max_total_time=$(1) \
				-max_len=$$len -rss_limit_mb=2048 -timeout=20 -print_final_stats=1) || exit 1; \
		done; \
	done
endef

fuzz:
	$(call fuzz_all,$(FUZZ_SECONDS))

fuzz-smoke:
	$(call fuzz_all,$(FUZZ_SMOKE_SECONDS))
