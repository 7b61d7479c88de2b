#!/usr/bin/env bun
/** Entry point of the `remotevis` executable: argv -> one command of cli/root.ts. */
const argv = process.argv.slice(2);
// SSC-IO worker processes start by the dozen: skip loading every command (~0.15 s each).
// No top-level await: the executable is compiled to bytecode (Makefile), which cannot have it.
const run = argv[0] === "io-worker" ? import("./io/worker.ts").then((m) => m.runIoWorker()) : import("./cli/root-dispatch.ts").then((m) => m.dispatch(argv));
run.then((code) => {
  process.exitCode = code;
});
export {};
