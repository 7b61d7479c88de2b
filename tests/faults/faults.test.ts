/**
 * The fault suite (issue 13): each scenario injects one fault into real components and checks
 * with payload checksums that no corrupt volume is shown or returned, that the old state
 * survives, that the user gets a clear error in time, and that the rest keeps serving. Each
 * records its line in report.ts; the summary is printed last:
 *   faults: N injected, 0 data lost, max time to error X s
 * and the table goes to build/faults-report.json (docs/RELIABILITY.md). Most scenarios need
 * root (namespaces, tmpfs, munged, users, slurm) and are skipped without it.
 * One scenario alone: bun test tests/faults -t "start timeout"
 */
import { afterAll } from "bun:test";
import { ROOT } from "./setup.ts";
import { summary, writeReport } from "./report.ts";
import "./transfer.ts";
import "./network.ts";
import "./middleware.ts";
import "./slurm.ts";
import "./disk.ts";
import "./start-timeout-local.ts";

afterAll(() => {
  writeReport(`${ROOT}build/faults-report.json`);
  console.log(summary());
});
