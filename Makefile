# RemoteVis. The README's two commands: `make demo` and `make test`.
# Bun is an npm devDependency, so a fresh machine needs only node/npm and the Debian packages
# of scripts/deps.sh (installed by `make deps` when run as root).
BUN      := node_modules/.bin/bun
SSC_LIB  := ffi/libsscrdma/build/libsscrdma.so
RVR_LIB  := ffi/librvr/build/librvr.so
RANKS    := ffi/rvrmpi/build/rvr_ranks
# Entry points of the executable: main, plus one per Worker (they must be entry points so
# that `new Worker(...)` finds them inside the executable; see src/process/worker-url.ts).
ENTRIES  := src/main.ts src/transfer/worker.ts src/render/worker.ts src/web/viewer/main.ts src/web/portal/main.ts src/middleware/auth/pam-worker.ts src/segment/worker.ts src/segment/prep-worker.ts
EXE      := dist/remotevis
TS_SRC   := $(shell find src bench -name '*.ts' -not -name '*.test.ts' 2>/dev/null) $(wildcard src/web/viewer/*.html src/web/viewer/*.css src/web/portal/*.html src/web/portal/*.css) package.json

.PHONY: all deps build native test test-c test-ts demo bench clean typecheck fuzz

all: build

deps:
	@scripts/deps.sh install

# onnxruntime-node's install script only downloads CUDA parts from outside: skipped (and denied
# in package.json's allowScripts); its CPU library is in the package itself.
node_modules/.installed: package.json
	ONNXRUNTIME_NODE_INSTALL_CUDA=skip ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund
	@touch $@

native: deps
	$(MAKE) -C ffi/libsscrdma
	$(MAKE) -C ffi/librvr
	$(MAKE) -C ffi/rvrmpi

$(SSC_LIB) $(RVR_LIB) $(RANKS): native

# ONNX Runtime for segmentation is a Node addon plus its 46 MB library, not embedded in the
# executable: it goes beside it (dist/onnxruntime/, found by src/segment/ort.ts). Copy both
# with the executable.
ORT_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x64)
ORT_DIST := dist/onnxruntime/onnxruntime_binding.node

# (ORT_DIST is defined above: a rule's prerequisites are expanded when make reads it.)
build: node_modules/.installed native $(EXE) $(ORT_DIST)

$(ORT_DIST): node_modules/.installed
	mkdir -p dist/onnxruntime
	cp node_modules/onnxruntime-node/bin/napi-v6/linux/$(ORT_ARCH)/onnxruntime_binding.node node_modules/onnxruntime-node/bin/napi-v6/linux/$(ORT_ARCH)/libonnxruntime.so.1 dist/onnxruntime/

# One executable with the .so files embedded (imported `with { type: "file" }`); the workers are
# extra entry points so that `new Worker(new URL(...))` resolves inside the executable, and so is
# the viewer's browser code (src/web/assets.ts serves it from /$bunfs/root/web/viewer/main.js).
# --bytecode: a start of the executable parses no JavaScript (0.2 s -> 0.01 s of CPU measured
# for `remotevis io-worker`, which SSC-IO starts once per worker per read).
$(EXE): $(TS_SRC) $(SSC_LIB) $(RVR_LIB) $(RANKS) node_modules/.installed
	$(BUN) build --compile --bytecode --minify-syntax $(ENTRIES) --outfile $(EXE)

# The Python client's own copy of libsscrdma (`pip install ./python` copies it by itself too).
python/remotevis/_lib/libsscrdma.so: $(SSC_LIB)
	cp $(SSC_LIB) $@

typecheck: node_modules/.installed
	node_modules/.bin/tsc -p tsconfig.json

# C tests, then Bun tests; scripts/test.sh adds them up into "N passed, N failed".
test: build
	@scripts/test.sh

demo: build
	@scripts/demo.sh

# The long fuzz runs (make test runs a short smoke of each): the libFuzzer targets and the TS
# fuzz targets, FUZZ_SECONDS each (default 600), two at a time; docs/RELIABILITY.md has figures.
fuzz: node_modules/.installed
	@FUZZ_SECONDS=$(or $(FUZZ_SECONDS),600) scripts/fuzz.sh $(FUZZ_TARGETS)

bench: build
	$(EXE) bench transfer
	$(EXE) bench middleware
	$(EXE) bench slurm
	$(EXE) bench io
	$(EXE) bench viewer
	$(EXE) bench segment
	$(EXE) bench load

clean:
	$(MAKE) -C ffi/libsscrdma clean
	$(MAKE) -C ffi/librvr clean
	$(MAKE) -C ffi/rvrmpi clean
	rm -rf dist
