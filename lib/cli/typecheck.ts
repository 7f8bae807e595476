// Type-checks scripts of one's own as the project's tsconfig checks lib/
// (strict, ES2022, `using`, Node's types), wherever they are in the tree,
// with 'kmodlab' resolved to the package itself: kmodlab-run --check, and
// the test that checks the docs' snippets.
import * as path from 'node:path';

/** The checker's report for `files` (empty when there is no error). */
export function typeCheck(files: string[], options: { color?: boolean } = {}): string {
  // typescript is a devDependency, loaded only when asked for.
  const ts = require('typescript') as typeof import('typescript');
  const root = path.join(__dirname, '..', '..');
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    // ESNext modules: a script may await at top level (kmodlab-run allows it).
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    typeRoots: [path.join(root, 'node_modules', '@types')],
    esModuleInterop: true,
    skipLibCheck: true,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length === 0) return '';
  const host = {
    getCanonicalFileName: (name: string) => name,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => '\n',
  };
  return (options.color ? ts.formatDiagnosticsWithColorAndContext : ts.formatDiagnostics)(diagnostics, host);
}
