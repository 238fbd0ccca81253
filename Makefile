# hms-infra: the whole stack as make targets. Each target runs the tools as one pipeline.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
export CARGO_TARGET_DIR ?= $(HOME)/.cache/hms-infra/target
BIN := $(CARGO_TARGET_DIR)/debug

.PHONY: build up plan down demo test bench
build:
	cargo build --workspace --bins

up: build
	$(BIN)/hms-vpc up

plan: build
	$(BIN)/hms-vpc plan --detailed-exitcode

down: build
	$(BIN)/hms-vpc down $(if $(YES),--yes,)

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/bench.sh
