// Mocha's spec reporter plus the closing line CI reads: exactly "N passed, N failed" (skipped tests,
// if any, are reported on the line before it).
const Mocha = require("mocha");
const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0,
      failed = 0,
      skipped = 0;
    runner.on(EVENT_TEST_PASS, () => passed++);
    runner.on(EVENT_TEST_FAIL, () => failed++);
    runner.on(EVENT_TEST_PENDING, () => skipped++);
    runner.once(EVENT_RUN_END, () => {
      const line = (skipped ? `${skipped} skipped\n` : "") + `${passed} passed, ${failed} failed`;
      const out = process.env.CARDPKI_SUMMARY_FILE;
      if (out) require("node:fs").writeFileSync(out, line + "\n");
      else process.stdout.write(line + "\n");
    });
  }
}
module.exports = SummaryReporter;
