// Raw memory helpers for the core. The runtime is "stub" (a bump allocator, no GC): every table the
// core keeps is a flat region of linear memory that it grows by doubling (the old region is left
// behind; doubling bounds that waste to the size of the live tables).

/**
 * Allocate `bytes` zeroed bytes, 16-byte aligned. The stub runtime's allocator only ever hands out
 * memory it has never handed out before (nothing is freed), and fresh linear memory is zero, so no fill.
 */
export function zalloc(bytes: usize): usize {
  const p = heap.alloc(bytes + 16);
  return (p + 15) & ~(<usize>15);
}

/** Grow a region from `oldBytes` to `newBytes`, keeping its contents. */
export function regrow(p: usize, oldBytes: usize, newBytes: usize): usize {
  const q = zalloc(newBytes);
  if (oldBytes > 0) memory.copy(q, p, oldBytes);
  return q;
}

/** FNV-1a over bytes [p, p+len). */
export function hashBytes(p: usize, len: i32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < len; i++) {
    h ^= <u32>load<u8>(p + <usize>i);
    h *= 0x01000193;
  }
  return h;
}

/** Mix two integers into a 32-bit hash (for thread and bin keys). */
export function hash2(a: i32, b: i32): u32 {
  let h: u32 = <u32>a * 0x9e3779b1 ^ (<u32>b + 0x7f4a7c15) * 0x85ebca77;
  h ^= h >> 15;
  h *= 0xc2b2ae3d;
  h ^= h >> 13;
  return h;
}
