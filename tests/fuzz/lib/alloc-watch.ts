/**
 * Observes the largest typed array a fuzz case asks for, so "a lying header makes the reader
 * allocate absurdly" is caught even when the allocation succeeds (the kernel hands out zero
 * pages lazily, so memory use alone would not show it) and even when the reader fails right
 * after it. Only fresh arrays of a given length count (`new Uint8Array(n)`), not views.
 * Installed in the fuzz child process only (tests/fuzz/lib/main.ts), never in the product.
 */
let largest = 0;

type Ctor = new (...args: never[]) => ArrayBufferView;

function watch<C extends Ctor>(Base: C, itemSize: number): C {
  const Watched = class extends (Base as unknown as new (...args: unknown[]) => ArrayBufferView) {
    constructor(...args: unknown[]) {
      if (typeof args[0] === "number" && args[0] * itemSize > largest) largest = args[0] * itemSize;
      super(...args);
    }
  };
  Object.defineProperty(Watched, "name", { value: Base.name });
  return Watched as unknown as C;
}

export function installAllocWatch(): void {
  const g = globalThis as Record<string, unknown>;
  g.Uint8Array = watch(Uint8Array, 1);
  g.Int8Array = watch(Int8Array, 1);
  g.Uint16Array = watch(Uint16Array, 2);
  g.Int16Array = watch(Int16Array, 2);
  g.Uint32Array = watch(Uint32Array, 4);
  g.Int32Array = watch(Int32Array, 4);
  g.Float32Array = watch(Float32Array, 4);
  g.Float64Array = watch(Float64Array, 8);
}

/** The largest allocation since the last call, in bytes; resets the count. */
export function takeLargestAllocation(): number {
  const n = largest;
  largest = 0;
  return n;
}
