/**
 * The portal's file browser and loads. Listing and reading happen in a helper process of the
 * user (helper.ts: setpriv as the user), confined to the storage roots; the middleware only
 * passes the answers on. `path` empty = the storage roots themselves.
 */
import type { Context } from "hono";
import * as v from "valibot";
import { RemoteVisError } from "../../errors.ts";
import type { AppEnv, Deps } from "../context.ts";
import { jsonBody } from "../body.ts";
import { portalOf } from "./portal-session.ts";

type C = Context<AppEnv>;

const PathParam = v.pipe(v.string("path must be a string"), v.minLength(1, "give a path"), v.maxLength(4096, "the path is too long"), v.regex(/^\/[^\0]*$/, "give an absolute path"));

export const OpenRequest = v.strictObject({
  path: PathParam,
  dataset: v.optional(v.pipe(v.string("dataset must be a string"), v.maxLength(1024, "the dataset path is too long"), v.regex(/^\/[^\0:]*$/, "dataset: an absolute path inside the file"))),
  instance: v.optional(v.pipe(v.string("instance must be a string"), v.regex(/^i-[0-9a-f]{16}$/, "instance must be an instance id"))),
  gpus: v.optional(v.pipe(v.number("gpus must be a number"), v.integer("gpus must be a whole number"), v.minValue(1, "gpus must be at least 1"), v.maxValue(1024, "gpus must be at most 1024"))),
  partition: v.optional(v.pipe(v.string("partition must be a string"), v.regex(/^[A-Za-z0-9._-]{1,64}$/, "partition must be a slurm partition name"))),
  timeMinutes: v.optional(v.pipe(v.number("timeMinutes must be a number"), v.integer("timeMinutes must be a whole number"), v.minValue(1, "timeMinutes must be at least 1"))),
});

function pathOf(c: C): string | undefined {
  const raw = c.req.query("path");
  if (raw === undefined || raw === "") return undefined;
  const r = v.safeParse(PathParam, raw);
  if (!r.success) throw new RemoteVisError("invalid_path", r.issues[0].message, 400);
  return r.output;
}

export function listFiles(d: Deps) {
  return async (c: C) => {
    const p = portalOf(d);
    const path = pathOf(c);
    if (!path) return c.json({ path: null, root: null, parent: null, entries: p.cfg.storageRoots.map((r) => ({ name: r, path: r, kind: "dir", size: 0, mtime: null, hdf5: false })), truncated: false });
    return c.json(await p.helper.run(c.get("who"), ["list", path]));
  };
}

export function listDatasets(d: Deps) {
  return async (c: C) => {
    const p = portalOf(d);
    const path = pathOf(c);
    if (!path) throw new RemoteVisError("invalid_path", "give the HDF5 file's path", 400);
    return c.json(await p.helper.run(c.get("who"), ["datasets", path]));
  };
}

export function openDataset(d: Deps) {
  return async (c: C) => {
    const p = portalOf(d);
    const req = await jsonBody(c, OpenRequest, "open request");
    return c.json(p.loads.start(c.get("who"), req), 202);
  };
}

export function getLoad(d: Deps) {
  return (c: C) => c.json(portalOf(d).loads.get(c.get("who"), c.req.param("id") ?? ""));
}
