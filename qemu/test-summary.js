// test-summary.js PART:STATUS...: adds up jest's JSON results from
// out/test/<part>.json and prints "N passed, N failed"; exits 1 on any failure.
// A part with no results, or a run that failed after its tests passed (a
// kernel warning or leak in the guest log, a module that would not unload),
// counts as one failure.
const fs = require('node:fs');

let passed = 0;
let failed = 0;
for (const arg of process.argv.slice(2)) {
  const [part, status] = arg.split(':');
  const file = `out/test/${part}.json`;
  if (!fs.existsSync(file)) {
    console.log(`[test] ${part}: no results (${file} missing): counted as 1 failure`);
    failed += 1;
    continue;
  }
  const result = JSON.parse(fs.readFileSync(file, 'utf8'));
  const suiteErrors = result.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
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
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
