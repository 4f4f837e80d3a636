# `make dev` runs the whole platform locally; `make test` runs every test.
# Both build .venv from the pinned requirements first; nothing is needed by hand.
# `make test` also builds .venv-checkov (checkov, apart from the app's pins) for the
# Terraform checks of tests/infra.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
WEB_STAMP := web/node_modules/.installed
FIREBASE_STAMP := infra/firebase/node_modules/.installed
CHATBOT_STAMP := examples/chatbot/node/node_modules/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: dev test bench lint clean generate package web

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_STAMP)

# The Node.js chatbot starter's one dependency (standardwebhooks), for its e2e test.
$(CHATBOT_STAMP): examples/chatbot/node/package.json examples/chatbot/node/package-lock.json
	cd examples/chatbot/node && npm ci --no-audit --no-fund --loglevel=error
	touch $(CHATBOT_STAMP)

# firebase-tools for the Firebase Auth emulator (infra/firebase/auth_emulator.cjs). Its
# install scripts only build optional native modules the Auth emulator does not use.
$(FIREBASE_STAMP): infra/firebase/package.json infra/firebase/package-lock.json
	cd infra/firebase && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(FIREBASE_STAMP)

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium > /dev/null

# The web app: its API types from the OpenAPI document (dumped from the code, no server),
# type-checked and built into web/dist, which the api serves locally.
web: $(STAMP) $(WEB_STAMP)
	$(BIN)/python -m infra.openapi_json build/openapi.json
	cd web && npm run --silent build

dev: $(STAMP) $(FIREBASE_STAMP) web
	$(BIN)/python -m infra.dev

# Two worker processes, a test file each at a time (a file's stack fixtures stay in one process):
# most of the suite waits on emulators and stacks rather than the CPU.
TEST_WORKERS ?= 2

test: $(STAMP) $(CHECKOV_STAMP) $(FIREBASE_STAMP) $(CHROMIUM) $(CHATBOT_STAMP) web
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Rewrite terraform/generated/ from shared/names.py and the API's OpenAPI document.
generate: $(STAMP)
	$(BIN)/python -m infra.generate

# The functions source archive Terraform deploys (build/functions.zip).
package: $(STAMP)
	$(BIN)/python -m infra.package_functions

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build .utio .pytest_cache .ruff_cache web/node_modules web/dist infra/firebase/node_modules \
		examples/chatbot/node/node_modules
