// kmodlab-run's TypeScript loader. kmodlab-run calls registerTypeScript();
// loaded with `node --require` (kmodlab-run puts it in process.execArgv, which
// child_process.fork() passes on), it registers itself for the process's main
// script, so a script's fork(process.argv[1]) or fork('other.ts') runs
// TypeScript as kmodlab-run does.
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';

export const TS_EXTENSIONS = ['.ts', '.cts', '.mts'];

type CompilingModule = NodeJS.Module & { _compile(code: string, filename: string): void };

/**
 * Compiles .ts files as CommonJS when Node requires them; `entry` (the main script) may await at
 * top level. Also adds this loader to process.execArgv, so fork()ed Node children get it.
 */
export function registerTypeScript(entry: string): void {
  const swc = require('@swc/core') as typeof import('@swc/core');
  const extensions = (Module as unknown as { _extensions: Record<string, (m: CompilingModule, file: string) => void> })
    ._extensions;
  const compile = (module: CompilingModule, filename: string): void => {
    const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
      filename,
      sourceMaps: 'inline',
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    // The entry runs in an async function, on the same first line so that line numbers hold.
    // Its error is printed as Node prints an uncaught one, less the excerpt of the rethrowing line.
    const body =
      filename === entry
        ? `(async () => {${code}\n})().catch((error) => { console.error(error); process.exitCode = 1; });`
        : code;
    module._compile(body, filename);
  };
  for (const extension of TS_EXTENSIONS) extensions[extension] = compile;
  process.setSourceMapsEnabled(true);
  if (!preloaded()) process.execArgv.push('--require', __filename);
}

/** Whether this process was started with `--require` this file (a child of kmodlab-run). */
function preloaded(): boolean {
  return process.execArgv.some((arg, i) => (arg === '--require' || arg === '-r') && process.execArgv[i + 1] === __filename);
}

// Preloaded: the main script is process.argv[1] (Node loads it by its real path).
if (preloaded() && process.argv[1] && fs.existsSync(process.argv[1])) {
  registerTypeScript(fs.realpathSync(path.resolve(process.argv[1])));
}
