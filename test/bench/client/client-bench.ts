import type { Plan } from '../lib/plan';
import type { TargetContext } from '../lib/targets';
export interface ClientBenchArgs { plan: Plan; ctx: TargetContext; loadCore: string | null; log: (s: string) => void }
export async function runClientBench(_a: ClientBenchArgs): Promise<{ figures: Record<string, number | null>; raw: unknown }> {
  throw new Error('client bench not wired yet');
}
