/**
 * A Worker thread running the blocking libsscrdma calls of worker.ts: one per Connection or
 * Listener (transfer.ts), and the one that allocates and pre-faults buffers (native-buffer.ts).
 */
import { WorkerRpc } from "../process/worker-rpc.ts";
import { workerUrl } from "../process/worker-url.ts";
import { TransferError } from "./ffi.ts";

export function newTransferThread(): WorkerRpc {
  return new WorkerRpc(workerUrl("transfer/worker.ts", new URL("./worker.ts", import.meta.url)), (code, what) => new TransferError(code, what));
}
