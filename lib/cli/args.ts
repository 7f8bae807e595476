// The command-line conventions every entry point shares: `--help`, unknown
// options refused (node:util parseArgs, strict), bad input reported as one
// usage line without a stack trace and exit status 2, failures as one line
// and exit status 1.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { isNativeError } from 'node:util/types';

/** One option: parseArgs' own settings plus what --help says of it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Shown after the option in --help, e.g. "N,N,...". */
  value?: string;
  /** One line for --help; state the default and the unit here. */
  help: string;
}

export interface CommandSpec {
  /** The command as users type it, e.g. "node dist/cli/memory-info-bench.js". */
  name: string;
  /** What follows the name in the usage line, e.g. "[options] SLOT TEXT...". */
  synopsis: string;
  /** A few lines: what the command does. */
  description: string;
  options?: Record<string, OptionSpec>;
  /** Positional arguments accepted, inclusive (default 0 to 0). */
  positionals?: { min: number; max: number };
}

export interface ParsedCommandLine {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** Bad input on the command line: reported with the usage, exit status 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The --help text: usage line, description, options. */
export function helpText(spec: CommandSpec): string {
  const lines = [`usage: ${spec.name} ${spec.synopsis}`.trimEnd(), '', spec.description.trimEnd(), '', 'options:'];
  const options: [string, OptionSpec][] = [
    ...Object.entries(spec.options ?? {}),
    ['help', { type: 'boolean', short: 'h', help: 'print this help and exit' }],
  ];
  const left = options.map(([long, o]) => `${o.short ? `-${o.short}, ` : '    '}--${long}${o.value ? ` ${o.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  options.forEach(([, o], i) => lines.push(`  ${left[i].padEnd(width)}${o.help}`));
  return `${lines.join('\n')}\n`;
}

/**
 * Parses `argv` (default: this process's arguments). `--help` prints the help
 * and exits 0; anything parseArgs refuses (unknown option, missing value),
 * or a wrong number of positionals, throws a UsageError.
 */
export function parseCommandLine(spec: CommandSpec, argv: string[] = process.argv.slice(2)): ParsedCommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [long, o] of Object.entries(spec.options ?? {})) {
    options[long] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  let parsed: ParsedCommandLine;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true }) as ParsedCommandLine;
  } catch (error) {
    // parseArgs' messages end in advice for programmers ("To specify a positional..."); keep the first sentence.
    throw new UsageError(String((error as Error).message).split('\n')[0].replace(/\. To .*$/, '.'));
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(spec));
    process.exit(0);
  }
  const { min, max } = spec.positionals ?? { min: 0, max: 0 };
  const n = parsed.positionals.length;
  if (n < min) throw new UsageError(`missing argument${min - n > 1 ? 's' : ''}`);
  if (n > max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`);
  return parsed;
}

/** An integer option's value, checked: UsageError naming the option otherwise. */
export function integerValue(option: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${option} must be an integer ${range}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * Where a result file goes: refuses (UsageError) to replace an existing one
 * unless `overwrite` is set, so a saved result is never lost by accident.
 * Checked before the work starts, not after it.
 */
export function outputPath(file: string, overwrite: boolean): string {
  const resolved = path.resolve(file);
  if (!overwrite && fs.existsSync(resolved)) {
    throw new UsageError(`${path.relative(process.cwd(), resolved)} exists: pass --force to replace it, or --output FILE`);
  }
  return resolved;
}

/**
 * Runs a command's main function: a UsageError prints the message and the
 * usage line and exits 2; an error with a `code` (a system call's, or the
 * library's ERR_* ones) prints its message and exits 1; anything else is a
 * bug and prints its stack.
 */
export function runCommand(spec: CommandSpec, main: () => unknown): void {
  const fail = (error: unknown): void => {
    const short = path.basename(spec.name.split(' ').at(-1) ?? spec.name);
    if (error instanceof UsageError) {
      process.stderr.write(`${short}: ${error.message}\nusage: ${`${spec.name} ${spec.synopsis}`.trimEnd()}\n(--help for more)\n`);
      process.exitCode = 2;
    } else if (isNativeError(error) && typeof (error as NodeJS.ErrnoException).code === 'string') {
      process.stderr.write(`${short}: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  };
  try {
    Promise.resolve(main()).catch(fail);
  } catch (error) {
    fail(error);
  }
}
