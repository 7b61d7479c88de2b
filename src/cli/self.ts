/**
 * argv that starts this same program again: the compiled executable alone, or `bun main.ts`
 * when run from source. Tests and benchmarks use it to start receivers, instances and servers
 * as real child processes.
 */
export function selfArgv(): string[] {
  const compiled = Bun.main.startsWith("/$bunfs/") || !/\.[cm]?[jt]s$/.test(Bun.main);
  return compiled ? [process.execPath] : [process.execPath, Bun.main.endsWith("main.ts") ? Bun.main : new URL("../main.ts", import.meta.url).pathname];
}
