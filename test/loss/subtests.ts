// One subtest per scenario of a loss-matrix run, named by its row: both matrices (single node,
// cluster) judge their results alike.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Result } from './scenarios';

/** A subtest per result: no unexpected error, and the checker's verdict a pass (its counts and problems in the message). */
export async function subtestEach(t: TestContext, results: Result[]): Promise<void> {
  for (const r of results) {
    await t.test(r.scenario.name, () => {
      assert.deepEqual(r.errors, [], r.errors.join('\n'));
      assert.ok(r.verdict.pass, `${r.scenario.id}: ${JSON.stringify({ ...r.verdict, problems: undefined })}\n${r.verdict.problems.join('\n')}`);
    });
  }
}
