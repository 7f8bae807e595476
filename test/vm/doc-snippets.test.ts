// The docs' code blocks, run in the guest as a reader would run them:
// `kmodlab-run FILE` for TypeScript, `node FILE` for JavaScript, against
// the real modules. A snippet that stops working fails here.
import { spawnSync } from 'node:child_process';

import { reloadModule } from '../../lib/kmod';
import { extractSnippets } from '../doc-snippets';

const snippets = extractSnippets();

beforeAll(() => reloadModule('kshram'));

test('there are snippets to run', () => {
  expect(snippets.length).toBeGreaterThanOrEqual(5);
});

test.each(snippets.map((s) => [s.source, s] as const))('%s runs and exits 0', (_source, snippet) => {
  const command = snippet.lang === 'ts' ? ['node_modules/.bin/kmodlab-run', snippet.file] : ['node', snippet.file];
  const r = spawnSync(command[0], command.slice(1), { encoding: 'utf8', timeout: 100_000 });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout.length).toBeGreaterThan(0);
});
