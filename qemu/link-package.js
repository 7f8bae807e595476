// Makes the project importable by its own name from any script in its tree
// (node_modules/kmodlab -> the project: Node and TypeScript's default
// resolution both find it there, with its types) and puts the package's own
// `bin` commands in node_modules/.bin, which is on the guest's PATH. npm links
// neither for the root package, and `npm install` prunes both: the build
// (Makefile, after tsc) runs this every time.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const modules = path.join(root, 'node_modules');

function symlink(target, where) {
  try {
    if (fs.readlinkSync(where) === target) return;
    fs.unlinkSync(where);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  fs.symlinkSync(target, where);
}

symlink('..', path.join(modules, pkg.name));
fs.mkdirSync(path.join(modules, '.bin'), { recursive: true });
for (const [name, file] of Object.entries(pkg.bin ?? {})) {
  const script = path.join(root, file);
  if (!fs.existsSync(script)) throw new Error(`package.json bin ${name}: ${file} was not built`);
  fs.chmodSync(script, 0o755);
  symlink(path.join('..', pkg.name, file), path.join(modules, '.bin', name));
}
