// Runs the scenarios for one subject in its own process and prints one JSON line of outcomes.
// Used for reconnecting-websocket by test/client-scenarios.e2e.test.ts: a library that leaves
// unhandled rejections behind (S7) must not disturb the test process. Unhandled rejections and
// uncaught exceptions are observed, never fatal, here.
//   node --import tsx test/comparison/run.ts rws [S4 S7 ...]
import { createEnv, runAll } from './scenarios';
import { reconnectingWebSocket, wssMpClient } from './subjects';

process.on('unhandledRejection', () => {});
process.on('uncaughtException', () => {});

const [which, ...ids] = process.argv.slice(2);
const subject = which === 'rws' ? reconnectingWebSocket : wssMpClient;
const env = createEnv();
try {
  const out = await runAll(subject, env, ids);
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  env.cleanup();
}
process.exit(0);
