/**
 * The portal's files as the middleware serves them, embedded the way the viewer's are
 * (src/web/assets.ts): page and styles as text; the browser code (src/web/portal/main.ts, its
 * own tsconfig with the DOM types) is an extra entry point of `bun build --compile` (Makefile),
 * found under /$bunfs/root/web/portal/main.js, and bundled with Bun.build on first use when
 * run from source. Cached for the life of the process.
 */
import css from "./portal.css" with { type: "text" };
import html from "./portal.html" with { type: "text" };

export const portalHtml = html as unknown as string;
export const portalCss = css;

let script: Promise<string> | undefined;

export function portalScript(): Promise<string> {
  script ??= (async () => {
    // inside the executable (compiled to bytecode, import.meta.url is the build tree's; Bun.main is not)
    if (import.meta.url.startsWith("file:///$bunfs/") || Bun.main.startsWith("/$bunfs/")) return Bun.file("/$bunfs/root/web/portal/main.js").text();
    const out = await Bun.build({ entrypoints: [new URL("./main.ts", import.meta.url).pathname], target: "browser", minify: true });
    if (!out.success || !out.outputs[0]) throw new Error(`cannot bundle the portal: ${out.logs.map(String).join("; ")}`);
    return out.outputs[0].text();
  })();
  script.catch(() => (script = undefined));
  return script;
}
