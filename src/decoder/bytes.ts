// Big-endian reads on a byte array. Callers check bounds first: these do not,
// so that V8 can inline them into the decode loop.
export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u24(b: Uint8Array, o: number): number {
  return (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
}

export function u32(b: Uint8Array, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

/** Little-endian 32-bit read (BSD loopback headers are in the writer's byte order). */
export function u32le(b: Uint8Array, o: number): number {
  return b[o + 3]! * 0x1000000 + ((b[o + 2]! << 16) | (b[o + 1]! << 8) | b[o]!);
}

/** Copies `n` bytes of `src` from `off` into `dst` (from 0) and zeroes the rest of `dst`. */
export function copyAddr(dst: Uint8Array, src: Uint8Array, off: number, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = src[off + i]!;
  for (let i = n; i < 16; i++) dst[i] = 0;
}

/** Encodes a failure as a negative return value: fail(reason) < 0, reasonOf(fail(r)) = r. */
export function fail(reason: number): number {
  return -1 - reason;
}

export function reasonOf(code: number): number {
  return -1 - code;
}
