// Bundled in place of Intl.Segmenter (esbuild --inject + --define, see package.json build:bundle).
// string-width, used by yargs' help layout (cliui, wrap-ansi), builds an Intl.Segmenter when its module
// is evaluated, and the ICU set-up behind one costs 7-9 ms: every run paid it, though only help text and
// width-fitted tables ever measure a string. This one builds the real segmenter on first use, and not at
// all for printable ASCII without CR/LF (help text, most tables), where each character is one grapheme.
const Real = globalThis['Intl']['Segmenter']; // indexed, so that the define does not rewrite it
const PLAIN = /^[\x20-\x7e]*$/;
export class LazySegmenter {
  #args;
  #real;
  constructor(...args) { this.#args = args; }
  #get() { return (this.#real ??= new Real(...this.#args)); }
  segment(input) {
    const s = String(input);
    if ((this.#args[1]?.granularity ?? 'grapheme') !== 'grapheme' || !PLAIN.test(s)) return this.#get().segment(s);
    return {
      *[Symbol.iterator]() { for (let i = 0; i < s.length; i++) yield { segment: s[i], index: i, input: s }; },
      containing: (i = 0) => (i >= 0 && i < s.length ? { segment: s[i], index: i, input: s } : undefined),
    };
  }
  resolvedOptions() { return this.#get().resolvedOptions(); }
  static supportedLocalesOf(...a) { return Real.supportedLocalesOf(...a); }
}
