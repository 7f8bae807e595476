#!/usr/bin/env node
// kmodlab-run: runs a script of one's own, TypeScript or JavaScript, with no
// tsconfig and no build step: `npm run vm -- kmodlab-run scratch/mine.ts`.
// TypeScript files are compiled in memory by swc (types stripped, not
// checked: --check runs the type checker instead), as CommonJS, with
// `using` lowered and source maps, so stack traces name the .ts lines. The
// script itself may use top-level await.
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';

import { type CommandSpec, runCommand, UsageError } from './args';
import { registerTypeScript, TS_EXTENSIONS } from './ts-register';
import { typeCheck } from './typecheck';

const spec = {
  name: 'kmodlab-run',
  synopsis: '[--check] FILE [ARG...]',
  description: [
    'Runs FILE (.ts, .js, .cjs or .mjs) with ARG... as its arguments; in the VM:',
    '  npm run vm -- kmodlab-run scratch/mine.ts ARG...',
    "FILE imports the library by name: import { kshram, memoryInfo, fastnet, traffic } from 'kmodlab'.",
    "It must be inside the project's folder: that is what the guest sees of the host",
    "(the guest's /tmp is its own; only out/ is written back to the host).",
    'TypeScript is compiled by swc, which strips types without checking them.',
    'Node children it fork()s (child_process.fork) get the same loader: fork(process.argv[1]) works.',
  ].join('\n'),
  options: {
    check: { type: 'boolean', help: 'type-check FILE (TypeScript, strict) and exit, without running it' },
  },
  positionals: { min: 1, max: 1 },
} satisfies CommandSpec;

/** Runs FILE (or type-checks it) with `scriptArgs` as its arguments; returns the status of a check. */
function main(check: boolean, given: string, scriptArgs: string[]): number | void {
  const file = path.resolve(given);
  if (!fs.existsSync(file)) {
    const where =
      process.env.KMODLAB_VM === '1'
        ? " (in the VM only the project's folder comes from the host: put scripts there, not in the host's /tmp)"
        : '';
    throw new UsageError(`${given}: no such file${where}`);
  }
  const isTypeScript = TS_EXTENSIONS.includes(path.extname(file));
  if (check) {
    if (!isTypeScript) throw new UsageError('--check is for TypeScript files');
    const errors = typeCheck([file], { color: process.stderr.isTTY && process.stderr.hasColors() });
    process.stderr.write(errors);
    if (!errors) console.log(`${path.relative(process.cwd(), file)}: no type errors`);
    return errors ? 1 : 0;
  }
  if (path.extname(file) === '.mts') throw new UsageError('.mts (ES module TypeScript) is not supported: use .ts');
  // Also for JavaScript: its fork()ed children may be TypeScript.
  registerTypeScript(fs.realpathSync(file));
  process.argv = [process.argv[0], file, ...scriptArgs];
  // As `node FILE` would: FILE becomes require.main, ESM for .mjs.
  (Module as unknown as { runMain(main?: string): void }).runMain(file);
}

// Options up to FILE are the runner's; everything after it is the script's.
const argv = process.argv.slice(2);
let split = argv.findIndex((arg) => !arg.startsWith('-') || arg === '-');
if (argv.indexOf('--') >= 0 && (split < 0 || argv.indexOf('--') < split)) split = argv.indexOf('--') + 1;
const own = split < 0 ? argv : argv.slice(0, split + 1);
const scriptArgs = split < 0 ? [] : argv.slice(split + 1);
runCommand(spec, ({ values, positionals }) => main(values.check, positionals[0], scriptArgs), own.filter((arg) => arg !== '--'));
