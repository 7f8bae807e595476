// test-summary.js VM_EXIT_STATUS HALF...: adds up jest's JSON results from
// out/test/<half>.json and prints "N passed, N failed"; exits 1 on any failure.
// A half with no results, or a VM run that failed after its tests passed (a
// kernel warning in the guest log, a module that would not unload), counts
// as one failure.
const fs = require('node:fs');

const [vmStatus, ...halves] = process.argv.slice(2);
let passed = 0;
let failed = 0;
for (const half of halves) {
  const file = `out/test/${half}.json`;
  if (!fs.existsSync(file)) {
    console.log(`[test] ${half}: no results (${file} missing): counted as 1 failure`);
    failed += 1;
    continue;
  }
  const result = JSON.parse(fs.readFileSync(file, 'utf8'));
  const suiteErrors = result.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
  console.log(
    `[test] ${half}: ${result.numPassedTests} passed, ${result.numFailedTests} failed` +
      (suiteErrors ? `, ${suiteErrors} suites failed to run` : ''),
  );
  passed += result.numPassedTests;
  failed += result.numFailedTests + suiteErrors;
  // Each VM boot's own exit status (out/test/<boot>.status), else the one given.
  const statusFile = `out/test/${half}.status`;
  const status = fs.existsSync(statusFile) ? Number(fs.readFileSync(statusFile, 'utf8')) : Number(vmStatus);
  if (half.startsWith('vm') && status !== 0 && result.numFailedTests + suiteErrors === 0) {
    console.log(`[test] ${half}: the guest run failed after the tests (see the [vm] lines above): counted as 1 failure`);
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
