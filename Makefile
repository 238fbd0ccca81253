# hms-infra: the whole stack as make targets; each runs the tools as one pipeline (pipefail: any failure
# fails the target). `make plan` is the plan pipeline; its last line says: no changes (exit 0), changes
# pending or failed (make exits 2 for both; the tools' own codes are in the line).
# ARGS is passed to every tool (e.g. make up ARGS="--env staging --config prod.toml"); YES=1 confirms down.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
export CARGO_TARGET_DIR ?= $(HOME)/.cache/hms-infra/target
BIN := $(CARGO_TARGET_DIR)/debug
ARGS ?=
# Pipeline order; `down` runs in reverse. The nine tools by default; a stack without the domain, the
# cache or the CDN names its tools: make up TOOLS="hms-vpc hms-security hms-db hms-ecs hms-backup hms-observe".
TOOLS ?= hms-vpc hms-security hms-dns hms-db hms-cache hms-ecs hms-edge hms-backup hms-observe
REVERSED = $(shell printf '%s\n' $(TOOLS) | tac)

PREFIX ?= $(HOME)/.local
ALL_TOOLS := hms-vpc hms-security hms-dns hms-db hms-cache hms-ecs hms-edge hms-backup hms-observe

.PHONY: build release install man up plan down demo test bench
build:
	cargo build --workspace --bins --quiet

# Release binaries (thin LTO, one codegen unit, stripped: see [profile.release] in Cargo.toml).
release:
	cargo build --workspace --bins --release --quiet

# Every tool into $(PREFIX)/bin (default ~/.local/bin), its man page into $(PREFIX)/share/man/man1 and its
# bash completion into $(PREFIX)/share/bash-completion/completions.
install: release
	@mkdir -p $(PREFIX)/bin $(PREFIX)/share/man/man1 $(PREFIX)/share/bash-completion/completions
	@for t in $(ALL_TOOLS); do \
	  install -m 0755 $(CARGO_TARGET_DIR)/release/$$t $(PREFIX)/bin/$$t; \
	  $(CARGO_TARGET_DIR)/release/$$t man > $(PREFIX)/share/man/man1/$$t.1; \
	  $(CARGO_TARGET_DIR)/release/$$t completions bash > $(PREFIX)/share/bash-completion/completions/$$t; \
	done; echo "installed $(words $(ALL_TOOLS)) tools into $(PREFIX)/bin (put it on PATH)"

# Man pages of every tool into man/ (clap_mangen): man ./man/hms-db.1
man: build
	@mkdir -p man; for t in $(ALL_TOOLS); do $(BIN)/$$t man > man/$$t.1; done; echo "man pages in man/"

# One pipeline: hms-vpc up | hms-security up | … (pipefail: the first failure fails the target), overlapped
# (HMS_OVERLAP=1: the tools start on each other's early documents; HMS_OVERLAP=0 runs them one after
# another). Its stdout is the final document (a stream of documents only when piped on: take the last).
up: export HMS_OVERLAP ?= 1
up: build
	@pipeline=""; in="</dev/null"; for t in $(TOOLS); do \
	  pipeline="$${pipeline:+$$pipeline | }$(BIN)/$$t up $(ARGS) $$in"; in=""; done; eval "$$pipeline"

# The plan pipeline (each tool plans on the one before's planned outputs), exit codes aggregated.
plan: build
	@pipeline=""; in="</dev/null"; for t in $(TOOLS); do \
	  pipeline="$${pipeline:+$$pipeline | }$(BIN)/$$t plan --detailed-exitcode $(ARGS) $$in"; in=""; done; \
	  set +e; eval "$$pipeline >/dev/null; codes=(\"\$${PIPESTATUS[@]}\")"; rc=0; \
	  for c in "$${codes[@]}"; do if [ $$c != 0 ] && [ $$c != 2 ]; then rc=1; \
	  elif [ $$c = 2 ] && [ $$rc = 0 ]; then rc=2; fi; done; \
	  case $$rc in 0) echo "make plan: no changes" >&2;; 2) echo "make plan: changes pending" >&2;; \
	  *) echo "make plan: failed (exit codes $${codes[*]})" >&2;; esac; exit $$rc

# Stops at the first tool that refuses: in production hms-ecs keeps a protected load balancer, hms-db a
# protected database, hms-backup a bucket that holds backups and hms-edge a static bucket that holds
# assets. Only when you mean it: DESTROY_DATA=1 passes hms-ecs and hms-db --disable-deletion-protection
# (hms-db still takes a final snapshot) and hms-backup and hms-edge --force-empty. hms-cache always
# takes a final snapshot.
down: build
	@for t in $(REVERSED); do extra=""; \
	  if [ -n "$(DESTROY_DATA)" ]; then case $$t in \
	    hms-db|hms-ecs) extra=--disable-deletion-protection;; hms-backup|hms-edge) extra=--force-empty;; esac; fi; \
	  $(BIN)/$$t down $(if $(YES),--yes,) $$extra $(ARGS) </dev/null >/dev/null; done

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/bench.sh
