// The few WebAssembly JS-API declarations kvmtax uses (Node has them at run time; TypeScript's only
// declarations of them live in lib.dom, which this project does not include).
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
}
