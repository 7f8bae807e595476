// Shared by the commands of lib/cli/kmodlab.ts: a usage error (exit 2) and
// node:util's parseArgs with its errors turned into usage errors.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  readonly usage: string;
  constructor(message: string, usage: string) {
    super(message);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

/** parseArgs (give it strict: true); its complaints (unknown option, missing value) become UsageErrors. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((error as Error).message, usage);
    throw error;
  }
}

/** A whole number in [min, max], or a UsageError naming the option. */
export function integerOption(name: string, text: string, min: number, max: number, usage: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`, usage);
  }
  return value;
}
