# The two commands a new user needs are `make run` and `make test` (see README.md).
# Everything else here is plumbing for them, for CI and for benchmarks.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080
DB ?= dirgate.redb

.PHONY: run test lint unit bench bench-data bench-server bench-postfix fuzz

## Build everything and run the server on its embedded redb file; it prints the URL and, on
## the first start, the operator's login.
run:
	$(CARGO) build --release --bin dirgate
	./target/release/dirgate serve --listen $(LISTEN) --db $(DB)

## Every check CI runs: formatting, lints, unit, fixture and end-to-end tests.
test: lint unit

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

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

## The whole SMTP path: Postfix with dirgate's policy service against a static recipient table.
bench-postfix:
	$(CARGO) test --release -p dirgate --test policy -- --ignored --nocapture bench_postfix

## Fuzz each target for FUZZ_SECONDS (nightly toolchain and cargo-fuzz required).
FUZZ_SECONDS ?= 60
fuzz:
	cd wasm/core && for t in $$(cargo +nightly fuzz list); do \
		cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 || exit 1; \
	done
