/** The portal's page, code and styles (embedded, src/web/portal/), with a strict CSP. */
import type { Context } from "hono";
import { portalCss, portalHtml, portalScript } from "../../web/portal/assets.ts";

const HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function portalRedirect() {
  return (c: Context) => c.redirect("/portal/", 302);
}

export function portalPage() {
  return (c: Context) => c.html(portalHtml, 200, { ...HEADERS, "content-security-policy": CSP });
}

export function portalAsset(kind: "js" | "css") {
  return async (c: Context) =>
    kind === "js"
      ? c.body(await portalScript(), 200, { ...HEADERS, "content-type": "text/javascript; charset=utf-8" })
      : c.body(portalCss, 200, { ...HEADERS, "content-type": "text/css; charset=utf-8" });
}
