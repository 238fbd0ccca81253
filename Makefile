# hms-infra: the whole stack as make targets; each runs the tools as one pipeline (pipefail: any failure
# fails the target). `make plan` aggregates exit codes: any 1 -> 1, else any 2 -> 2, else 0.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
export CARGO_TARGET_DIR ?= $(HOME)/.cache/hms-infra/target
BIN := $(CARGO_TARGET_DIR)/debug
# Pipeline order; `down` runs in reverse.
TOOLS := hms-vpc hms-security hms-db hms-ecs
REVERSED := hms-ecs hms-db hms-security hms-vpc

.PHONY: build up plan down demo test bench
build:
	cargo build --workspace --bins --quiet

up: build
	$(BIN)/hms-vpc up | $(BIN)/hms-security up | $(BIN)/hms-db up | $(BIN)/hms-ecs up

plan: build
	@rc=0; for t in $(TOOLS); do code=0; $(BIN)/$$t plan --detailed-exitcode >/dev/null || code=$$?; \
	  if [ $$code = 1 ]; then rc=1; elif [ $$code = 2 ] && [ $$rc = 0 ]; then rc=2; fi; done; exit $$rc

down: build
	@for t in $(REVERSED); do $(BIN)/$$t down $(if $(YES),--yes,) >/dev/null; done

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/bench.sh
