# One-command habits. `make run` and `make test` are the README's two commands.
NODE_DIR ?= var/demo-node
PY := .venv/bin/python

.PHONY: run setup setup-dev test test-fast lint format bench eval proto clean

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh --dev

## Install everything, create a demo city node (南京 320100) on SQLite and start all its processes.
run: setup
	@if [ ! -f $(NODE_DIR)/node.toml ]; then .venv/bin/hotline init --level city --region 320100 $(NODE_DIR); fi
	.venv/bin/hotline -c $(NODE_DIR) run --demo

## Install test dependencies and run every test on SQLite and PostgreSQL.
test: setup-dev
	scripts/test.sh

test-fast:
	.venv/bin/pytest -q -x -m "not slow" -p no:cacheprovider

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: setup-dev
	$(PY) -m tests.bench.run_all

eval: setup-dev
	$(PY) scripts/eval_text.py

clean:
	rm -rf var .pytest_cache
