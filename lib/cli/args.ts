// The command-line layer of every entry point (kmodlab capture and bench,
// kmodlab-run, the memory_info benchmark, lib/examples). A command is defined
// once, as a CommandSpec: its options with their types, ranges and help, its
// positionals. From that come node:util parseArgs' configuration (strict:
// unknown options refused), the values checked and converted, and --help.
// The parser prints nothing and never exits: parseCommandLine() returns the
// values, or 'help'; execute() and runCommand() print and set the status:
// 0 after --help, 2 with the usage line for bad input (UsageError), 1 with
// one line for a failure that has a code, and a stack trace for a bug.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { isNativeError } from 'node:util/types';

interface OptionBase {
  short?: string;
  /** Shown after the option in --help, e.g. "N,N,...". */
  value?: string;
  /** For --help; may span lines. A default in the spec is added as "(default X)". */
  help: string;
}

export interface BooleanOption extends OptionBase {
  type: 'boolean';
}

export interface StringOption extends OptionBase {
  type: 'string';
  default?: string;
  required?: boolean;
  /** The values allowed; any other is a usage error. */
  choices?: readonly string[];
}

/** A whole number from min to max, checked by the parser. */
export interface IntegerOption extends OptionBase {
  type: 'integer';
  min: number;
  max?: number;
  default?: number;
  required?: boolean;
}

export type OptionSpec = BooleanOption | StringOption | IntegerOption;

export interface CommandSpec {
  /** The command as users type it, e.g. "node dist/cli/memory-info-bench.js". */
  name: string;
  /** What follows the name in the usage line, e.g. "[options] SLOT TEXT...". */
  synopsis: string;
  /** A few lines: what the command does. */
  description: string;
  /** By long name, in the order --help lists them (--help itself is added). */
  options?: Record<string, OptionSpec>;
  /** Positional arguments accepted, inclusive (default 0 to 0). */
  positionals?: { min: number; max: number };
  /** Subcommands, each with its one-line summary, listed after the options. */
  commands?: Record<string, string>;
  /** The last lines of --help: what the positionals mean, the exit statuses... */
  epilog?: string;
}

type Always<O> = O extends { default: unknown } ? true : O extends { required: true } ? true : false;

/** An option's value as the parser hands it over: undefined when not given (and neither default nor required). */
type ValueOf<O extends OptionSpec> = O extends BooleanOption
  ? boolean
  :
      | (O extends IntegerOption ? number : O extends { choices: readonly (infer C)[] } ? C : string)
      | (Always<O> extends true ? never : undefined);

export type Values<S extends CommandSpec> = { [K in keyof NonNullable<S['options']>]: ValueOf<NonNullable<S['options']>[K]> };

export interface ParsedCommandLine<S extends CommandSpec = CommandSpec> {
  values: Values<S>;
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

/** The one wording of a bad value: `NAME must be WHAT, got "TEXT"`. */
export function badValue(name: string, what: string, text: string): UsageError {
  return new UsageError(`${name} must be ${what}, got ${JSON.stringify(text)}`);
}

/** An integer's text, checked: UsageError naming the option or argument otherwise. */
export function integerValue(name: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw badValue(name, `an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}`, text);
  }
  return n;
}

/** One of `choices`, or a UsageError listing them. */
export function choiceValue<C extends string>(name: string, text: string, choices: readonly C[]): C {
  if (!(choices as readonly string[]).includes(text)) throw badValue(name, `one of ${choices.join(', ')}`, text);
  return text as C;
}

const HELP_OPTION: BooleanOption = { type: 'boolean', short: 'h', help: 'print this help and exit' };

/** The usage line, without "usage: ". */
function usageLine(spec: CommandSpec): string {
  return `${spec.name} ${spec.synopsis}`.trimEnd();
}

/** Two columns, the second aligned; its continuation lines too. */
function columns(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, text]) => `  ${left.padEnd(width)}${text.split('\n').join(`\n  ${' '.repeat(width)}`)}`);
}

/** The --help text: usage line, description, options, commands, epilog. */
export function helpText(spec: CommandSpec): string {
  const options: [string, OptionSpec][] = [...Object.entries(spec.options ?? {}), ['help', HELP_OPTION]];
  const lines = [`usage: ${usageLine(spec)}`, '', spec.description.trimEnd(), '', 'options:'];
  lines.push(
    ...columns(
      options.map(([long, o]) => [
        `${o.short ? `-${o.short}, ` : '    '}--${long}${o.value ? ` ${o.value}` : ''}`,
        o.type !== 'boolean' && o.default !== undefined ? `${o.help} (default ${o.default})` : o.help,
      ]),
    ),
  );
  if (spec.commands) lines.push('', 'commands:', ...columns(Object.entries(spec.commands)));
  if (spec.epilog) lines.push('', spec.epilog.trimEnd());
  return `${lines.join('\n')}\n`;
}

/**
 * Parses `argv` by `spec`: 'help' if -h or --help is there; otherwise the
 * options' values (integers converted, choices and ranges checked, defaults
 * filled in, booleans false when absent) and the positionals. Anything
 * parseArgs refuses (unknown option, missing value), a bad value, a missing
 * required option or a wrong number of positionals throws a UsageError.
 */
export function parseCommandLine<S extends CommandSpec>(spec: S, argv: readonly string[]): ParsedCommandLine<S> | 'help' {
  const specs = Object.entries(spec.options ?? {});
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [long, o] of [...specs, ['help', HELP_OPTION] as const]) {
    config[long] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) };
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: true });
  } catch (error) {
    if (!String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) throw error;
    // parseArgs' messages end in advice for programmers ("To specify a positional..."); keep the first sentence.
    throw new UsageError(String((error as Error).message).split('\n')[0].replace(/\. To .*$/, '.'));
  }
  if (parsed.values.help) return 'help';
  const { min, max } = spec.positionals ?? { min: 0, max: 0 };
  const n = parsed.positionals.length;
  if (n < min) throw new UsageError(`missing argument${min - n > 1 ? 's' : ''}`);
  if (n > max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`);

  const values: Record<string, unknown> = {};
  for (const [long, o] of specs) {
    const given = parsed.values[long];
    const name = `--${long}`;
    if (o.type === 'boolean') values[long] = given === true;
    else if (typeof given !== 'string') {
      if (o.required) throw new UsageError(`${name}${o.value ? ` ${o.value}` : ''} is required`);
      values[long] = o.default;
    } else if (o.type === 'integer') values[long] = integerValue(name, given, o.min, o.max);
    else values[long] = o.choices ? choiceValue(name, given, o.choices) : given;
  }
  return { values: values as Values<S>, positionals: parsed.positionals };
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

/** How messages name the command: the script's file name, or the whole name when it has no path ("kmodlab bench"). */
function programName(spec: CommandSpec): string {
  const script = spec.name
    .split(' ')
    .reverse()
    .find((word) => word.includes('/'));
  return script === undefined ? spec.name : path.basename(script);
}

/** Prints what went wrong; returns the exit status (2 usage, 1 failure). */
function report(spec: CommandSpec, error: unknown): number {
  const program = programName(spec);
  if (error instanceof UsageError) {
    process.stderr.write(`${program}: ${error.message}\nusage: ${usageLine(spec)}\n(--help for more)\n`);
    return 2;
  }
  if (isNativeError(error) && typeof (error as NodeJS.ErrnoException).code === 'string') {
    process.stderr.write(`${program}: ${error.message}\n`);
    return 1;
  }
  console.error(error);
  return 1;
}

/** A command's work: given the parsed command line, it may return (or resolve with) an exit status. */
export type CommandMain<S extends CommandSpec> = (args: ParsedCommandLine<S>) => unknown;

/**
 * Parses `argv` by `spec` and runs `main` with the result; resolves with the
 * exit status: 0 after printing --help, main's own (a number it returned;
 * 0 if none), 2 after printing a UsageError with the usage line, 1 after
 * printing a failure. Never rejects.
 */
export async function execute<S extends CommandSpec>(spec: S, main: CommandMain<S>, argv: readonly string[]): Promise<number> {
  try {
    const parsed = parseCommandLine(spec, argv);
    if (parsed === 'help') {
      process.stdout.write(helpText(spec));
      return 0;
    }
    const status = await main(parsed);
    return typeof status === 'number' ? status : 0;
  } catch (error) {
    return report(spec, error);
  }
}

/**
 * execute() for a script's own command line (default: this process's
 * arguments), the status as process.exitCode: left alone when it is 0, so
 * that what the work itself set (kmodlab-run's script) stands.
 */
export function runCommand<S extends CommandSpec>(spec: S, main: CommandMain<S>, argv: readonly string[] = process.argv.slice(2)): void {
  void execute(spec, main, argv).then((status) => {
    if (status !== 0) process.exitCode = status;
  });
}
