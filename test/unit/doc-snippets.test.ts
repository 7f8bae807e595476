// The docs' code blocks compile: every ```ts block of README.md and docs/*.md
// type-checks (strict, as a reader's script under kmodlab-run --check) with
// 'kmodlab' imported by name, and every ```js block parses. They run in the
// guest in test/vm/doc-snippets.test.ts.
import { spawnSync } from 'node:child_process';

import { typeCheck } from '../../lib/cli/typecheck';
import { extractSnippets } from '../doc-snippets';

const snippets = extractSnippets();

jest.setTimeout(120_000);

test('the docs have snippets, README.md included', () => {
  expect(snippets.filter((s) => s.source.startsWith('README.md')).length).toBeGreaterThanOrEqual(3);
  expect(snippets.some((s) => s.lang === 'js')).toBe(true);
});

test('every TypeScript snippet type-checks, importing from kmodlab', () => {
  const ts = snippets.filter((s) => s.lang === 'ts');
  expect(ts.length).toBeGreaterThan(0);
  for (const s of ts) expect(s.code).toMatch(/from 'kmodlab'/);
  expect(typeCheck(ts.map((s) => s.file))).toBe('');
});

test('every JavaScript snippet parses, and uses no `using` (Node 20 has none)', () => {
  for (const s of snippets.filter((x) => x.lang === 'js')) {
    const r = spawnSync('node', ['--check', s.file], { encoding: 'utf8' });
    expect({ source: s.source, stderr: r.stderr, status: r.status }).toEqual({ source: s.source, stderr: '', status: 0 });
    expect(s.code).not.toMatch(/^\s*using /m);
  }
});

test('a snippet that does not compile would fail the check', () => {
  const [first] = snippets.filter((s) => s.lang === 'ts');
  const fs = require('node:fs') as typeof import('node:fs');
  const broken = first.file.replace(/\.ts$/, '-broken.ts');
  fs.writeFileSync(broken, `${first.code}\nconst n: number = 'not a number';\n`);
  expect(typeCheck([broken])).toMatch(/TS2322/);
  fs.unlinkSync(broken);
});
