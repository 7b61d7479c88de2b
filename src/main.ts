#!/usr/bin/env bun
/** Entry point of the `remotevis` executable: argv -> one command of cli/root.ts. */
const argv = process.argv.slice(2);
// SSC-IO worker processes start by the dozen: skip loading every command (~0.15 s each).
if (argv[0] === "io-worker") process.exitCode = await (await import("./io/worker.ts")).runIoWorker();
else process.exitCode = await (await import("./cli/root-dispatch.ts")).dispatch(argv);
export {};
