/** Every TS fuzz target by name (tests/fuzz/lib/main.ts runs one of them). */
import type { Target } from "../lib/target.ts";
import { FILE_FORMATS, fileTarget } from "./files.ts";
import { headerTarget } from "./header.ts";
import { protocolTarget } from "./protocol.ts";

export function targetByName(name: string): Target | undefined {
  if (FILE_FORMATS.includes(name)) return fileTarget(name as Parameters<typeof fileTarget>[0]) as Target;
  if (name === "protocol") return protocolTarget as Target;
  if (name === "header") return headerTarget as Target;
  return undefined;
}

export const TARGETS = [...FILE_FORMATS, "protocol", "header"];
