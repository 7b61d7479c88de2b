/**
 * `--host auto`: the address of this machine that faces the middleware (the source address
 * the kernel picks for a route to it). A slurm job may land on any compute node; this is the
 * address clients of that node reach it at, as the middleware does. No packet is sent.
 */
import { createSocket } from "node:dgram";

export function addressToward(middleware: string | undefined): Promise<string> {
  if (!middleware) return Promise.resolve("127.0.0.1");
  const u = new URL(middleware);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve) => {
    const s = createSocket(host.includes(":") ? "udp6" : "udp4");
    const done = (a: string) => {
      s.close();
      resolve(a);
    };
    s.on("error", () => done("127.0.0.1"));
    s.connect(Number(u.port) || 80, host, () => done(s.address().address));
  });
}
