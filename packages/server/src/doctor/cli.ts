// Placeholder until issue 6 lands: `wss-mp-server doctor`.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('wss-mp-server doctor: not implemented yet\n');
  return 2;
}
