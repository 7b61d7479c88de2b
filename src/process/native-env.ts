/**
 * Sets a variable in the process's C environment. Bun's `process.env` is a JS copy that C
 * libraries never see, but UCX (and libsscrdma's SSC_UCX_ERR_MODE) read their settings from
 * getenv() when a context is created: this is how a Bun process picks its own transports.
 */
import { dlopen, FFIType } from "bun:ffi";

let setenv: ((name: Buffer, value: Buffer, overwrite: number) => number) | undefined;

export function setNativeEnv(name: string, value: string): void {
  setenv ??= dlopen("libc.so.6", { setenv: { args: [FFIType.cstring, FFIType.cstring, FFIType.i32], returns: FFIType.i32 } }).symbols.setenv as never;
  setenv!(Buffer.from(name + "\0"), Buffer.from(value + "\0"), 1);
  process.env[name] = value;
}
