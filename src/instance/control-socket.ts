/**
 * The control WebSocket: one JSON request `{id, op, ...}` -> one JSON reply `{id, ok: true,
 * ...}` or `{id, error}`; a reply with bytes (screenshot) is followed by one binary message.
 * Scene events (transfer progress, new volume, ...) are pushed as `{event, ...}`. A bad
 * message gets an error reply; the socket and the instance keep going.
 */
import type { WSContext, WSEvents } from "hono/ws";
import { RemoteVisError, messageOf } from "../errors.ts";
import { parseOrThrow } from "../protocol/common.ts";
import { ControlEnvelope, type ControlOp } from "../protocol/control.ts";
import type { Control } from "./control.ts";
import type { Scene } from "./scene.ts";
import type { InstanceState } from "./state.ts";

const MAX_MESSAGE = 1 << 20;

export function controlSocket(s: InstanceState, scene: Scene, control: Control): WSEvents {
  let off = () => {};
  const errorReply = (id: unknown, err: unknown) => {
    const e = err instanceof RemoteVisError ? err : new RemoteVisError("internal", messageOf(err), 500);
    if (!(err instanceof RemoteVisError)) console.error("control op failed:", err);
    return JSON.stringify({ id: typeof id === "number" || typeof id === "string" ? id : null, ...e.toJSON() });
  };
  return {
    onOpen(_e, ws: WSContext) {
      s.connections++;
      s.opened("control");
      off = scene.on((event) => {
        const { type, ...rest } = event;
        ws.send(JSON.stringify({ event: type, ...rest }));
      });
    },
    async onMessage(e, ws) {
      let msg: unknown;
      try {
        if (typeof e.data !== "string") throw new RemoteVisError("invalid_message", "control messages are JSON text", 400);
        if (e.data.length > MAX_MESSAGE) throw new RemoteVisError("too_large", "control messages are at most 1 MiB", 413);
        try {
          msg = JSON.parse(e.data);
        } catch {
          throw new RemoteVisError("invalid_json", "the message is not valid JSON", 400);
        }
        // parseOrThrow, not valibot's own message: that one repeats a value it did not expect
        parseOrThrow(ControlEnvelope, msg, "control message (it needs {id, op})", "invalid_message");
        const { id, op, ...body } = msg as { id: number | string; op: ControlOp };
        const r = await control.run(op, body);
        ws.send(JSON.stringify({ id, ok: true, ...r.json }));
        if (r.bytes) ws.send(r.bytes);
      } catch (err) {
        ws.send(errorReply((msg as { id?: unknown } | undefined)?.id, err));
      }
    },
    onClose() {
      s.connections--;
      off();
    },
  };
}
