// The code blocks of README.md and docs/*.md, as files: every ```ts and ```js
// block is a script a reader may paste, so test/unit/doc-snippets.test.ts
// type-checks them and test/vm/doc-snippets.test.ts runs them in the guest.
// They are written under out/snippets/, inside the project, where 'kmodlab'
// resolves as it does for a reader's own script.
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

export interface Snippet {
  /** Where it comes from: "README.md:123" (the line of its opening fence). */
  source: string;
  lang: 'ts' | 'js';
  code: string;
  /** The file it was written to, relative to the project's root. */
  file: string;
}

/** Every ts/js block of README.md and docs/*.md, written to out/snippets/. */
export function extractSnippets(): Snippet[] {
  const docs = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const dir = path.join(ROOT, 'out', 'snippets');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const snippets: Snippet[] = [];
  for (const doc of docs) {
    const lines = fs.readFileSync(path.join(ROOT, doc), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(ts|js)\s*$/.exec(lines[i]);
      if (!open) continue;
      const end = lines.indexOf('```', i + 1);
      if (end < 0) throw new Error(`${doc}:${i + 1}: unclosed code block`);
      const lang = open[1] as 'ts' | 'js';
      const code = `${lines.slice(i + 1, end).join('\n')}\n`;
      const file = path.join('out', 'snippets', `${doc.replace(/[/.]/g, '-')}-${i + 1}.${lang}`);
      fs.writeFileSync(path.join(ROOT, file), code);
      snippets.push({ source: `${doc}:${i + 1}`, lang, code, file });
      i = end;
    }
  }
  return snippets;
}
