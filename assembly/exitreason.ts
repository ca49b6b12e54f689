/**
 * kvm_exit's exit_reason as the binary decoders (perfdata.ts: perf.data samples, tdrecord.ts: trace.dat records)
 * read it: the reason key (the dictionary id of the reason's name, which TypeScript writes through reasonName),
 * cached by (isa, code), and the EXITF_* flags the raw value carries. One cache for both decoders: the
 * dictionary belongs to the core, so a key stays valid across files.
 */
import { zalloc } from "./mem";
import { intern as dictIntern } from "./dict";
import { EXITF_FAILED_VMENTRY, EXITF_NO_VCPU } from "./constants";

/** Writes the name of (isa, code) at the scratch pointer the caller gives, returns its length (src/wasm/core.ts). */
@external("env", "reasonName")
declare function reasonName(isa: i32, code: i32): i32;

const RCAP: i32 = 4096;
let rmap: usize = 0;
// (isa 0..3, code < 1024) -> reason key + 1: most exit codes of VMX and SVM, without hashing
let rdirect: usize = 0;

/** The reason code of a raw exit_reason: VMX's basic reason (low 16 bits); other ISAs as recorded. */
@inline export function exitCode(isa: i32, raw: u32): i32 {
  return isa == 1 ? <i32>(raw & 0xffff) : <i32>raw;
}

/** EXITF_* of a raw exit_reason: VMX's failed-VM-entry bit 31; no vcpu id when the format has none (flag bit 17). */
@inline export function exitFlags(isa: i32, raw: u32, fmtFlags: i32): i32 {
  let c = (fmtFlags & (1 << 17)) != 0 ? EXITF_NO_VCPU : 0;
  if (isa == 1 && (raw & 0x80000000) != 0) c |= EXITF_FAILED_VMENTRY;
  return c;
}

/** The reason key of (isa, code); `scratch` is where reasonName writes the name. */
@inline export function reasonKey(isa: i32, code: i32, scratch: usize): i32 {
  if (<u32>isa < 4 && <u32>code < 1024 && rdirect != 0) {
    const d = rdirect + (<usize>((isa << 10) | code) << 2);
    const k = load<i32>(d);
    if (k != 0) return k - 1;
    const id = reasonKeySlow(isa, code, scratch);
    store<i32>(d, id + 1);
    return id;
  }
  return reasonKeySlow(isa, code, scratch);
}

function reasonKeySlow(isa: i32, code: i32, scratch: usize): i32 {
  if (rmap == 0) { rmap = zalloc(<usize>RCAP * 16); rdirect = zalloc(4 << 12); }
  let i = <i32>((<u32>code * 0x9e3779b1 ^ <u32>isa * 0x85ebca77) >> 8) & (RCAP - 1);
  for (let n = 0; n < RCAP; n++) {
    const e = rmap + (<usize>i << 4);
    if (load<i32>(e + 12) == 0) break;
    if (load<i32>(e) == isa && load<i32>(e + 4) == code) return load<i32>(e + 8);
    i = (i + 1) & (RCAP - 1);
  }
  const id = dictIntern(scratch, reasonName(isa, code));
  const e = rmap + (<usize>i << 4);
  if (load<i32>(e + 12) == 0) { store<i32>(e, isa); store<i32>(e + 4, code); store<i32>(e + 8, id); store<i32>(e + 12, 1); }
  return id;
}
