# hms-infra: the whole stack as make targets; each runs the tools as one pipeline (pipefail: any failure
# fails the target). `make plan` aggregates exit codes: any 1 -> 1, else any 2 -> 2, else 0.
# ARGS is passed to every tool (e.g. make up ARGS="--env staging --config prod.toml"); YES=1 confirms down.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
export CARGO_TARGET_DIR ?= $(HOME)/.cache/hms-infra/target
BIN := $(CARGO_TARGET_DIR)/debug
ARGS ?=
# Pipeline order; `down` runs in reverse.
TOOLS := hms-vpc hms-security hms-db hms-ecs hms-backup hms-observe
REVERSED := hms-observe hms-backup hms-ecs hms-db hms-security hms-vpc

.PHONY: build up plan down demo test bench
build:
	cargo build --workspace --bins --quiet

up: build
	$(BIN)/hms-vpc up $(ARGS) | $(BIN)/hms-security up $(ARGS) | $(BIN)/hms-db up $(ARGS) \
	  | $(BIN)/hms-ecs up $(ARGS) | $(BIN)/hms-backup up $(ARGS) | $(BIN)/hms-observe up $(ARGS)

plan: build
	@rc=0; for t in $(TOOLS); do code=0; $(BIN)/$$t plan --detailed-exitcode $(ARGS) </dev/null >/dev/null || code=$$?; \
	  if [ $$code = 1 ]; then rc=1; elif [ $$code = 2 ] && [ $$rc = 0 ]; then rc=2; fi; done; exit $$rc

# Stops at the first tool that refuses: in production hms-db keeps a protected database and hms-backup a
# bucket that holds backups. Only when you mean it: DESTROY_DATA=1 passes hms-db
# --disable-deletion-protection (a final snapshot is still taken) and hms-backup --force-empty.
down: build
	@for t in $(REVERSED); do extra=""; \
	  if [ -n "$(DESTROY_DATA)" ]; then case $$t in \
	    hms-db) extra=--disable-deletion-protection;; hms-backup) extra=--force-empty;; esac; fi; \
	  $(BIN)/$$t down $(if $(YES),--yes,) $$extra $(ARGS) </dev/null >/dev/null; done

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/bench.sh
