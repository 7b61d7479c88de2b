/**
 * Where a Worker's module is. From source it is the file beside the caller; inside the
 * compiled executable every entry point lives under /$bunfs/root/ at its path relative to
 * src/ (the common folder of the entry points in the Makefile's compile line), and a bundled
 * module's import.meta.url is the executable's, not its own — so the caller names both.
 */
export function workerUrl(pathInSrc: string, besideCaller: URL): string {
  // Compiled to bytecode (--bytecode), import.meta.url is the source file's at build time;
  // Bun.main is the executable's /$bunfs/ path either way.
  const compiled = besideCaller.href.startsWith("file:///$bunfs/") || Bun.main.startsWith("/$bunfs/");
  return compiled ? `/$bunfs/root/${pathInSrc}` : besideCaller.href;
}
