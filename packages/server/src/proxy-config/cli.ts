// Placeholder until issue 5 lands: `wss-mp-server proxy-config`.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('wss-mp-server proxy-config: not implemented yet\n');
  return 2;
}
