/**
 * `remotevis hdf5-probe list FILE... | plan FILE [--dataset D]`: the hidden process in which an
 * instance lets libhdf5 look at a file first, so that a file that crashes libhdf5 ends this
 * process and not the instance (src/instance/hdf5-guard.ts).
 */
import { runProbe } from "../instance/hdf5-guard.ts";
import { str, type Command } from "./command.ts";

export const hdf5Probe: Command = {
  name: "hdf5-probe",
  summary: "(internal) libhdf5 on a file in a process of its own",
  usage: "hdf5-probe list FILE... | plan FILE [--dataset D]",
  hidden: true,
  options: { dataset: { type: "string", value: "PATH", help: "plan: the dataset" } },
  run(args) {
    const [op, ...files] = args.positionals;
    return runProbe(op ?? "", files, str(args, "dataset"));
  },
};
