/**
 * The viewer's files as the instance serves them. The page and its styles are embedded as text;
 * the browser code (src/web/viewer/, its own tsconfig with the DOM types) is bundled for the
 * browser: inside the compiled executable it is an extra entry point of `bun build --compile`
 * (Makefile), found under /$bunfs/root/web/viewer/main.js; from source it is bundled with
 * Bun.build on first use. Either way the result is cached for the life of the process.
 */
import css from "./viewer/viewer.css" with { type: "text" };
import html from "./viewer/viewer.html" with { type: "text" };

// Bun's own types call an .html import a bundle; imported as text it is the file's text.
const page = html as unknown as string;
export const viewerHtml = (title: string): string => page.replace("{{title}}", title.replace(/[<>&"]/g, ""));
export const viewerCss = css;

let script: Promise<string> | undefined;

export function viewerScript(): Promise<string> {
  script ??= (async () => {
    // inside the executable (compiled to bytecode, import.meta.url is the build tree's; Bun.main is not)
    if (import.meta.url.startsWith("file:///$bunfs/") || Bun.main.startsWith("/$bunfs/")) return Bun.file("/$bunfs/root/web/viewer/main.js").text();
    const out = await Bun.build({ entrypoints: [new URL("./viewer/main.ts", import.meta.url).pathname], target: "browser", minify: true });
    if (!out.success || !out.outputs[0]) throw new Error(`cannot bundle the viewer: ${out.logs.map(String).join("; ")}`);
    return out.outputs[0].text();
  })();
  script.catch(() => (script = undefined));
  return script;
}

/** The page a wrong or missing secret gets instead of the viewer. */
export const forbiddenHtml = `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>RemoteVis: no access</title>
<style>body{font:16px/1.5 system-ui,sans-serif;background:#111418;color:#d8dde3;display:grid;place-items:center;min-height:100vh;margin:0}main{max-width:32rem;padding:2rem}h1{font-size:1.3rem;color:#ff8a7a}code{background:#222831;padding:0 .3em;border-radius:3px}</style>
<main><h1>403 — this viewer needs its link</h1><p>The address is missing the instance's token, or the token is wrong. Open the full link that
<code>remotevis client start</code> or the portal gave you (it ends in <code>?token=…</code>).</p></main></html>`;

/** Answer to a valid `?token=`: sets the cookie (response header) and goes on to the viewer without the token in the address. */
export const enterHtml = (nonce: string) => `<!doctype html><html lang="en"><meta charset="utf-8"><title>RemoteVis</title>
<script nonce="${nonce}">location.replace("/" + location.hash)</script><noscript>Continue to <a href="/">the viewer</a>.</noscript></html>`;
