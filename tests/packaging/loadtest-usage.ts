// Type-level test of pkg/loadtest.d.ts (`hf-inference-wasm/loadtest`), imported by name.
// Never run: tests/js/loadtest.test.mjs runs `tsc --noEmit --strict` over it (bundler and
// node16 resolution). An unused `@ts-expect-error` is itself an error, so too-loose
// declarations fail the test.

import { loadTest, planLoadTest, estimateCost, renderHtml, type LoadTestReport, type LoadTestStep, type BreakingPoint } from "hf-inference-wasm/loadtest";

export async function usage(): Promise<string> {
  const report: LoadTestReport = await loadTest({ endpointUrl: "http://127.0.0.1:8000/v1", model: "m", concurrency: [1, 2], requests: 4, onProgress: (p) => void p.event });
  const step: LoadTestStep = report.steps[0];
  const p95: number | null = step.ttftMs.p95;
  const n: number | undefined = step.errors["http 429"];
  const bp: BreakingPoint | null = report.breakingPoint;
  const at: number | null | undefined = bp?.concurrency;
  const plan = planLoadTest({ baseUrl: "https://router.huggingface.co", model: "org/m:together", rate: 5, durationMs: 10_000 });
  const usd: number = estimateCost(plan, { input: 0.1, output: 0.2 }).usd;
  // @ts-expect-error model is required
  await loadTest({ endpointUrl: "http://x" });
  // @ts-expect-error itlMs has no p99
  void step.itlMs.p99;
  // @ts-expect-error the report's steps are not strings
  const bad: string = report.steps[0];
  return `${p95} ${n} ${at} ${usd} ${bad} ${renderHtml(report).length}`;
}
