import type { Plan } from '../lib/plan';
import type { TargetContext } from '../lib/targets';
export interface StormArgs { lib: 'wss-mp-client' | 'reconnecting-websocket'; plan: Plan; ctx: TargetContext; loadCore: string | null; log: (s: string) => void }
export async function runStorm(_a: StormArgs): Promise<{ figures: Record<string, number | null>; raw: unknown }> {
  throw new Error('storm not wired yet');
}
