// test-summary.js PART:STATUS:SECONDS...: adds up jest's JSON results from
// out/test/<part>.json and prints "N passed, N failed"; exits 1 on any failure.
// A part with no results, or a run that failed after its tests passed (a
// kernel warning or leak in the guest log, a module that would not unload),
// counts as one failure. Before that line: each failed test with the first
// lines of its message (a lane's own output can be cut short, as CI's is),
// each part's time, and the five slowest test files; every file's time goes
// to out/test/times.tsv.
const fs = require('node:fs');
const path = require('node:path');

let passed = 0;
let failed = 0;
const parts = [];
const files = [];
const failures = [];
// The head of a failure message, without jest's colours and its own stack frames: enough to tell
// which assertion, its values and the line.
const head = (message) =>
  message
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s*at .*(node_modules|<anonymous>)/.test(line))
    .slice(0, 8)
    .map((line) => `[test]       ${line}`)
    .join('\n');
// A file jest could not run (a syntax error, a failing import): failed, with no test in it.
const didNotRun = (suite) => suite.status === 'failed' && suite.assertionResults.length === 0;
for (const arg of process.argv.slice(2)) {
  const [part, status, seconds] = arg.split(':');
  parts.push(`${part} ${seconds ?? '?'} s`);
  const file = `out/test/${part}.json`;
  if (!fs.existsSync(file)) {
    console.log(`[test] ${part}: no results (${file} missing): counted as 1 failure`);
    failed += 1;
    continue;
  }
  const result = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const suite of result.testResults) {
    const name = path.relative(process.cwd(), suite.name);
    const tests = suite.assertionResults.filter((a) => a.status !== 'pending').length;
    files.push({ part, name, seconds: (suite.endTime - suite.startTime) / 1000, tests });
    for (const a of suite.assertionResults.filter((t) => t.status === 'failed')) {
      failures.push(`[test] FAILED ${part} ${name}: ${a.fullName}\n${head(a.failureMessages.join('\n'))}`);
    }
    if (didNotRun(suite)) {
      failures.push(`[test] FAILED ${part} ${name}: the file did not run\n${head(suite.message)}`);
    }
  }
  const suiteErrors = result.testResults.filter(didNotRun).length;
  console.log(
    `[test] ${part}: ${result.numPassedTests} passed, ${result.numFailedTests} failed` +
      (suiteErrors ? `, ${suiteErrors} suites failed to run` : ''),
  );
  passed += result.numPassedTests;
  failed += result.numFailedTests + suiteErrors;
  if (Number(status) !== 0 && result.numFailedTests + suiteErrors === 0) {
    console.log(`[test] ${part}: the run failed after its tests (see the lines above): counted as 1 failure`);
    failed += 1;
  }
}
files.sort((a, b) => b.seconds - a.seconds);
fs.mkdirSync('out/test', { recursive: true });
fs.writeFileSync(
  'out/test/times.tsv',
  ['part\tfile\ttests\tseconds', ...files.map((f) => `${f.part}\t${f.name}\t${f.tests}\t${f.seconds.toFixed(1)}`)].join('\n') + '\n',
);
for (const f of failures) console.log(f);
console.log(`[test] time: ${parts.join(', ')}`);
console.log('[test] slowest files (all in out/test/times.tsv):');
for (const f of files.slice(0, 5)) console.log(`[test]   ${f.seconds.toFixed(1).padStart(7)} s  ${f.part}  ${f.name} (${f.tests} tests)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
