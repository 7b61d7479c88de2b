import pkg from "../package.json" with { type: "json" };

/** The version printed by `remotevis --version`, from package.json (embedded at build). */
export const VERSION: string = pkg.version;
