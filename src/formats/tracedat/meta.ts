/**
 * trace.dat metadata (trace-cmd's Documentation/trace-cmd/trace-cmd.dat.v7.5.txt and .v6.txt): the magic
 * every version starts with. Integers after it are in the byte order its endianness byte gives, so a
 * byte-swapped (big-endian) file has the same first ten bytes.
 */
const MAGIC = [0x17, 0x08, 0x44, 0x74, 0x72, 0x61, 0x63, 0x69, 0x6e, 0x67]; // \x17\x08D tracing

/** True when `head` starts with the trace.dat magic "\x17\x08Dtracing". */
export function isTraceDat(head: Uint8Array): boolean {
  if (head.length < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (head[i] !== MAGIC[i]) return false;
  return true;
}
