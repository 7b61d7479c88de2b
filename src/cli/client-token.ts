import { RemoteVisError } from "../errors.ts";
import { clientFrom, connectionOptions } from "./client-common.ts";
import { flag, str, type Command } from "./command.ts";
import { emit } from "./output.ts";

export const clientToken: Command = {
  name: "token",
  summary: "create, list or revoke API tokens (for tools without munge)",
  usage: "client token create NAME [--days N] | list | revoke ID",
  description: `
A token stands for you in 'Authorization: Bearer ...' (or REMOTEVIS_TOKEN). Creating one needs
munge; the token is printed once and stored only as a hash.`,
  options: { days: { type: "string", value: "N", help: "expire after N days (default: never)" }, ...connectionOptions },
  async run(args) {
    const [verb, arg] = args.positionals;
    const rv = clientFrom(args);
    const json = flag(args, "json");
    if (verb === "create" && arg) {
      const t = await rv.createToken({ name: arg, ...(str(args, "days") ? { expiresInDays: Number(str(args, "days")) } : {}) });
      emit(json, t, `${t.token}\n(token ${t.id} '${t.name}'; shown only now: keep it like a password)`);
    } else if (verb === "list") {
      const list = await rv.listTokens();
      if (json) process.stdout.write(JSON.stringify({ tokens: list }) + "\n");
      else process.stdout.write(list.length ? list.map((t) => `${t.id}  ${t.name}  created ${t.createdAt}  last used ${t.lastUsedAt ?? "never"}`).join("\n") + "\n" : "no tokens\n");
    } else if (verb === "revoke" && arg) {
      await rv.revokeToken(arg);
      emit(json, { revoked: arg }, `token ${arg} revoked`);
    } else throw new RemoteVisError("usage", "expected 'create NAME', 'list' or 'revoke ID'");
    return 0;
  },
};
