/**
 * How wide the text tables may be: $COLUMNS when set, else the terminal's width, else 80 (a pipe or a
 * file, where the width is unknown); --wide: no limit (every column, as the goldens hold them).
 */
import { stdoutIsTerminal, stdoutStream } from '../core/stdout.js';

export function tableWidth(wide: boolean | undefined, out?: NodeJS.WriteStream): number | undefined {
  if (wide) return undefined;
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return Math.max(env, 40);
  // standard output: its stream is built only for a terminal (core/stdout.ts)
  if (!out && !stdoutIsTerminal()) return 80;
  const o = out ?? stdoutStream();
  if (o.isTTY && o.columns > 0) return Math.max(o.columns, 40);
  return 80;
}

export const WIDE_OPTION = {
  type: 'boolean' as const, default: false,
  describe: 'tables: every column, however wide (default: fit $COLUMNS, the terminal, or 80 columns)',
};
