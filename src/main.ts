#!/usr/bin/env bun
/** Entry point of the `remotevis` executable: argv -> one command of cli/root.ts. */
import { dispatch } from "./cli/root-dispatch.ts";

process.exitCode = await dispatch(process.argv.slice(2));
