# RemoteVis. The README's two commands: `make demo` and `make test`.
# Bun is an npm devDependency, so a fresh machine needs only node/npm and the Debian packages
# of scripts/deps.sh (installed by `make deps` when run as root).
BUN      := node_modules/.bin/bun
SSC_LIB  := ffi/libsscrdma/build/libsscrdma.so
RVR_LIB  := ffi/librvr/build/librvr.so
# Entry points of the executable: main, plus one per Worker (they must be entry points so
# that `new Worker(...)` finds them inside the executable; see src/process/worker-url.ts).
ENTRIES  := src/main.ts src/transfer/worker.ts src/render/worker.ts
EXE      := dist/remotevis
TS_SRC   := $(shell find src bench -name '*.ts' -not -name '*.test.ts' 2>/dev/null) package.json

.PHONY: all deps build native test test-c test-ts demo bench clean typecheck

all: build

deps:
	@scripts/deps.sh install

node_modules/.installed: package.json
	npm install --no-audit --no-fund
	@touch $@

native: deps
	$(MAKE) -C ffi/libsscrdma
	$(MAKE) -C ffi/librvr

$(SSC_LIB) $(RVR_LIB): native

build: node_modules/.installed native $(EXE)

# One executable with the .so files embedded (imported `with { type: "file" }`); the worker is
# a second entry point so that `new Worker(new URL(...))` resolves inside the executable.
$(EXE): $(TS_SRC) $(SSC_LIB) $(RVR_LIB) node_modules/.installed
	$(BUN) build --compile --minify-syntax $(ENTRIES) --outfile $(EXE)

typecheck: node_modules/.installed
	node_modules/.bin/tsc -p tsconfig.json

# C tests, then Bun tests; scripts/test.sh adds them up into "N passed, N failed".
test: build
	@scripts/test.sh

demo: build
	@scripts/demo.sh

bench: build
	$(EXE) bench transfer
	$(EXE) bench middleware
	$(EXE) bench slurm

clean:
	$(MAKE) -C ffi/libsscrdma clean
	$(MAKE) -C ffi/librvr clean
	rm -rf dist
