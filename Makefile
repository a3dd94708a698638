# dpn: the two commands a newcomer needs are `make demo` and `make test`.
# Both set everything up themselves (scripts/setup.sh: .venv with the torch
# wheel that provides libtorch, .cargo/config.toml pointing cargo at it).

CARGO ?= cargo
DPN := target/release/dpn

.PHONY: setup build demo test lint unit generated clean-venv

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

demo: build
	@bash scripts/demo.sh $(DPN)

# Everything CI checks: formatting, lints, and the whole test suite (unit,
# CLI, and the parity tests that run timm in .venv).
test: setup lint unit

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --all-targets --features test-hooks -- -D warnings

# test-hooks: the fail points some tests need (absent from release builds).
unit: setup
	$(CARGO) test --locked --features test-hooks

# Regenerate completions/ and man/ from the clap definitions.
generated: setup
	DPN_UPDATE_GENERATED=1 $(CARGO) test --locked --features test-hooks --test generated

clean-venv:
	rm -rf .venv .cargo/config.toml
