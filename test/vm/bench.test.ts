// kmodlab bench for real, in the guest: a short run of two methods with the
// soaker, through the command itself; its table, its JSON (every raw sample,
// kernel, accelerator, options) and its plot. No speed is asserted: only that
// the counts add up.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'kmodlab.js');

test('a short run: table, JSON with every sample, plot; the counts add up', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-test-'));
  const r = spawnSync(
    process.execPath,
    [CLI, 'bench', '-m', 'fastnet-ring,fastnet-drop', '-d', '1', '-n', '2', '--slots', '8192', '-o', out],
    { encoding: 'utf8', timeout: 600_000 },
  );
  // On failure, the command's own output says where it stood.
  expect({ status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout.slice(-3000) }).toMatchObject({ status: 0, stderr: '' });
  // A progress line per run, then the table, then the files.
  expect(r.stdout.match(/^\[bench \d\/4 /gm)).toHaveLength(4);
  expect(r.stdout).toMatch(/^method +bytes +offered kpps .* x -$/m);
  expect(r.stdout).toMatch(/^fastnet-ring +64 +max /m);
  expect(r.stdout).toMatch(/^fastnet-drop +64 +max /m);

  // The rows in the order of -m (the second round ran fastnet-drop first).
  expect(r.stdout.indexOf('\nfastnet-ring ')).toBeLessThan(r.stdout.indexOf('\nfastnet-drop '));
  const files = fs.readdirSync(out);
  // Every file the run leaves is in its closing list (the plot's .dat included).
  expect(files.filter((f) => !r.stdout.includes(f))).toEqual([]);
  const json = files.find((f) => f.endsWith('.json'))!;
  expect(r.stdout).toContain(path.basename(json));
  const result = JSON.parse(fs.readFileSync(path.join(out, json), 'utf8'));
  expect(result.kernel).toBe(os.release());
  expect(['tcg', 'kvm']).toContain(result.accelerator);
  expect(result.vcpus).toBe(os.cpus().length);
  expect(result.options).toMatchObject({ durationSec: 1, repeats: 2, slots: 8192, methods: ['fastnet-ring', 'fastnet-drop'] });
  expect(result.cpuMeter).toBe('soaker');
  expect(result.idleIterationsPerSec.median).toHaveLength(os.cpus().length);
  expect(result.samples).toHaveLength(4);
  for (const s of result.samples) {
    expect(s.sent).toBeGreaterThan(0);
    expect(s.delivered + s.lost).toBe(s.sent);
    expect(s.busy).toHaveLength(os.cpus().length);
    expect(s.cpuPerFrameNs).toBeGreaterThan(0);
    if (s.method === 'fastnet-ring') {
      // Every pktgen frame is UDP/IPv4, counted in place in the ring; what is lost, the ring counted as dropped.
      expect(s.ipv4).toBe(s.delivered);
      expect(s.lost).toBe(s.captureDropped);
    } else {
      expect(s.lost).toBe(0);
    }
  }
  // Methods alternate: each round starts with the other one.
  expect(result.samples.map((s: { method: string }) => s.method)).toEqual(['fastnet-ring', 'fastnet-drop', 'fastnet-drop', 'fastnet-ring']);
  expect(result.summaries).toHaveLength(2);

  const svg = files.find((f) => f.endsWith('.svg'))!;
  const plot = fs.readFileSync(path.join(out, svg), 'utf8');
  expect(plot).toContain('<svg');
  expect(plot).toContain('fastnet-ring');
  fs.rmSync(out, { recursive: true, force: true });
}, 660_000);
