# The two commands README.md promises, plus their parts. Everything installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration venv system-deps rootfs postgres stack-up stack-down clean

$(INSTALLED): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(INSTALLED)

venv: $(INSTALLED)

# debootstrap builds the Asterisk rootfs (Debian sid) on this Debian host; the wallboard test renders the
# page in Debian's headless chromium.
system-deps:
	@command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap; }
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

rootfs: venv system-deps
	$(BIN)/callcenter asterisk build

postgres: venv
	$(BIN)/callcenter db ensure-server

demo: rootfs postgres
	$(BIN)/callcenter demo

lint: venv
	$(BIN)/ruff check .

# mypy: strict on the pure cores, checked everywhere in middleware/ (pyproject.toml [tool.mypy]).
typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit

integration: rootfs postgres
	$(BIN)/pytest -q tests/integration

test: lint typecheck rootfs postgres
	$(BIN)/pytest -q tests

stack-up: rootfs postgres
	$(BIN)/callcenter db upgrade
	$(BIN)/callcenter stack up

stack-down: venv
	$(BIN)/callcenter stack down

clean: venv
	-$(BIN)/callcenter stack down
	rm -rf .cache/run
