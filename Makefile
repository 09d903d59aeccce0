# omnivoice-rtc — the two commands a newcomer needs are `make dev` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
# e.g. PYTEST_PARALLEL="-n 2 --dist loadfile": test files on two processes (own servers, own port range)
PYTEST_PARALLEL ?=

.PHONY: dev test check soak static lint typecheck go-test unit bench bench-audio bench-shim bench-pipeline bench-stt bench-ledger bench-latency bench-agent-cpu deps system-deps go-deps py-deps web-deps clean

## Install everything that is missing (idempotent; second run is fast).
deps: system-deps go-deps py-deps web-deps

system-deps:
	@bash scripts/install-debian.sh

go-deps:
	@bash scripts/install-livekit.sh $(if $(NO_SIP),,--sip)
	@bash scripts/install-native.sh
	@bash scripts/install-egress.sh

py-deps: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev,bench]'
	@rm -f $(VENV)/.installed-*
	@touch $@

web-deps:
	@bash scripts/install-web.sh

## Start the local stack (livekit-server, redis + livekit-sip, agent worker, web page). Ctrl-C stops all.
dev: deps
	$(VENV)/bin/omnivoice-rtc dev

## Install what is missing, then run the whole suite: ruff, mypy strict, go vet + go test, pytest (unit, integration, e2e).
test: deps
	$(MAKE) --no-print-directory static
	$(MAKE) --no-print-directory go-test
	$(PY) -m pytest $(PYTEST_PARALLEL) -m "not multinode" --durations=25 $(PYTEST_ARGS)
	@# the local cluster (2 livekit-server nodes, 2 workers, 2 web replicas, HAProxy) runs on
	@# its own, after the main session's servers and workers are gone (2-core CI box);
	@# exit 5 = PYTEST_ARGS selected no cluster test
	$(PY) -m pytest -m multinode $(PYTEST_ARGS) || [ $$? -eq 5 ]

## ruff + mypy strict + pytest (same as test; kept for muscle memory)
check: test

static: lint typecheck

lint: py-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: py-deps
	$(VENV)/bin/mypy

## The native media participant's own checks (gofmt, go vet, go test).
go-test:
	@cd native/omnivoice-media && test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	cd native/omnivoice-media && CGO_ENABLED=1 go vet -mod=readonly . && CGO_ENABLED=1 go test -mod=readonly -count=1 .

unit: py-deps
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

## The long fault runs (1,000-call churn per media backend, 30-minute RSS soak); figures in
## <pytest basetemp>/reliability-figures.json (docs/reliability.md).
soak: deps
	$(PY) -m pytest -m soak tests/integration/faults $(PYTEST_ARGS)

bench: bench-audio bench-shim bench-pipeline bench-stt bench-ledger bench-latency bench-agent-cpu

bench-audio: deps
	$(PY) -m bench.audio

bench-shim: deps
	$(PY) -m bench.shim

bench-pipeline: deps
	$(PY) -m bench.pipeline

## Word error rate of the offline recognizers (Whisper tiny.en, pocketsphinx) at 8 and 16 kHz.
bench-stt: deps
	$(PY) -m bench.stt_wer
## Call ledger write cost per call and webhook delivery latency (SQLite and PostgreSQL).
bench-ledger: deps
	$(PY) -m bench.ledger

## The agent worker's CPU per call with 20 ms (ours) and 50 ms (livekit's) input frames.
bench-agent-cpu: deps
	$(PY) -m bench.agent_input_cpu

bench-latency: deps  ## turn latency per route (docs/benchmarks.md); route groups run apart on a small box
	$(PY) -m bench.latency --routes webrtc,twilio --turns 20
	$(PY) -m bench.latency --routes sip --turns 20
	$(PY) -m bench.latency --routes webrtc,sip --turns 0 --barge-ins 5
	$(PY) -m bench.latency --routes twilio --turns 0 --barge-ins 5

clean:
	rm -rf $(VENV) bin .cache node_modules
