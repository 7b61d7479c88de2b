import { RemoteVisError, messageOf } from "../errors.ts";
import { VERSION } from "../version.ts";
import { dispatch as run } from "./command.ts";
import { root } from "./root.ts";

/** Runs argv; prints `remotevis: message` for any failure and returns the exit code. */
export async function dispatch(argv: string[]): Promise<number> {
  if (argv[0] === "--version" || argv[0] === "-V") {
    process.stdout.write(`remotevis ${VERSION}\n`);
    return 0;
  }
  try {
    return await run(root, argv);
  } catch (err) {
    process.stderr.write(`remotevis: ${messageOf(err)}\n`);
    if (process.env.REMOTEVIS_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return err instanceof RemoteVisError && err.code === "usage" ? 2 : 1;
  }
}
