# Build shortcuts for deployment. Tests: `cargo test` (see README).

MUSL_TARGET := x86_64-unknown-linux-musl
MUSL_BIN := target/$(MUSL_TARGET)/release/aml-handlers
FUNCTIONS ?=
PACKAGE_DIR ?= target/package

.PHONY: musl package clean-package

## musl: a static Linux binary for Azure Functions (no glibc version to match on the host)
## (needs musl-gcc: `apt-get install musl-tools` on Debian/Ubuntu, for ring's C and assembly)
musl:
	rustup target add $(MUSL_TARGET)
	CC_x86_64_unknown_linux_musl=musl-gcc cargo build --release --locked --target $(MUSL_TARGET) --no-default-features --bin aml-handlers

## package: the Functions app with the static binary in $(PACKAGE_DIR), plus app.zip;
## FUNCTIONS=RunStatusChanged packages one function
package: musl
	cargo run --release --locked --bin aml-handlers -- package --out $(PACKAGE_DIR) --zip \
		--executable $(MUSL_BIN) $(if $(FUNCTIONS),--functions $(FUNCTIONS),)

clean-package:
	rm -rf $(PACKAGE_DIR)
