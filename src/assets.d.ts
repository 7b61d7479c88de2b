// Files embedded in the compiled executable with `import path from "./x.so" with { type: "file" }`.
declare module "*.so" {
  const path: string;
  export default path;
}

// Styles embedded as text: `import css from "./x.css" with { type: "text" }` (.html imports are
// typed by bun-types; imported as text they are strings too).
declare module "*.css" {
  const text: string;
  export default text;
}

// The MPI helper of the distributed renderer (ffi/rvrmpi/build/rvr_ranks), embedded the same way.
declare module "*/rvr_ranks" {
  const path: string;
  export default path;
}
