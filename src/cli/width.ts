/**
 * How wide the text tables may be: $COLUMNS when set, else the terminal's width, else 80 (a pipe or a
 * file, where the width is unknown); --wide: no limit (every column, as the goldens hold them).
 */
export function tableWidth(wide: boolean | undefined, out: NodeJS.WriteStream = process.stdout): number | undefined {
  if (wide) return undefined;
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return Math.max(env, 40);
  if (out.isTTY && out.columns > 0) return Math.max(out.columns, 40);
  return 80;
}

export const WIDE_OPTION = {
  type: 'boolean' as const, default: false,
  describe: 'tables: every column, however wide (default: fit $COLUMNS, the terminal, or 80 columns)',
};
