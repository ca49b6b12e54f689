/**
 * Names from a trace (comms, VM names, file names, reasons) are data: they must never act as terminal
 * control (an OSC sequence in a comm retitles the terminal, a CSI one recolours it), as Markdown or HTML
 * markup, or as a spreadsheet formula.
 */

/** C0 and C1 control characters and DEL (newline left to the callers that split lines), and the bidi overrides. */
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** Control characters as visible escapes (\x1b, \u202e): what a terminal shows, never what it obeys. */
export function termSafe(s: string): string {
  return s.replace(CONTROL, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** One line of text with control characters escaped, newlines included. */
export function lineSafe(s: string): string {
  return termSafe(s).replace(/\n/g, '\\n');
}

/**
 * Markdown cell or line text: controls escaped, and what Markdown would read as markup made literal:
 * "|" (a cell boundary), "<" and "&" (raw HTML, entities), "[", "]" and "`" (links, code spans).
 * ">" and "*" stay: without "<" no tag opens, and emphasis cannot run a link or a script.
 */
export function mdSafe(s: string): string {
  return lineSafe(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/([|[\]`\\])/g, (m) => (m === '\\' ? '\\\\' : `\\${m}`));
}

/**
 * A CSV cell that a spreadsheet would run as a formula (it starts with =, +, -, @, tab or CR) gets a
 * leading apostrophe; numbers ("-3", "+1.5e3") are left as they are.
 */
export function csvSafe(s: string): string {
  if (!/^[=+\-@\t\r]/.test(s)) return s;
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return s;
  return `'${s}`;
}
