// Placeholder until issue 2 lands. main returns the exit code, or -1 to keep running (serving).
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('wss-mp-server: not implemented yet\n');
  return 2;
}
