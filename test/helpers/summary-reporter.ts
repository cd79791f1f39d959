// Prints one plain closing line, "N passed, N failed, N skipped", that any CI log reader
// understands, after the skipped tests, each with its full name: a skip's name says why
// (test/helpers/requirements.ts).
import type { Reporter, TestCase, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const skipped: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed++;
        else if (state === "failed") counts.failed++;
        else {
          counts.skipped++;
          skipped.push(`skipped: ${module.moduleId.replace(`${process.cwd()}/`, "")} > ${fullName(test)}`);
        }
      }
      if (module.state() === "failed" && module.children.size === 0) counts.failed++;
    }
    const list = skipped.length ? `\n${skipped.join("\n")}\n` : "";
    process.stdout.write(`${list}\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}

/** The test's name with the names of the groups it is in, where a skip's reason may stand. */
function fullName(test: TestCase): string {
  const names = [test.name];
  for (let parent = test.parent; parent.type === "suite"; parent = parent.parent) names.unshift(parent.name);
  return names.join(" > ");
}
