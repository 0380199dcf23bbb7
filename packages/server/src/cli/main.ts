#!/usr/bin/env node
// The CLI is a thin shell: subcommands dispatch to their own modules; everything else serves.
const argv = process.argv.slice(2);
const sub = argv[0];
let code: number;
if (sub === 'doctor') code = await (await import('./doctor')).main(argv.slice(1));
else if (sub === 'proxy-config') code = await (await import('./proxy-config')).main(argv.slice(1));
else code = await (await import('./serve')).main(sub === 'serve' ? argv.slice(1) : argv);
if (code !== -1) process.exitCode = code;
// A --workers worker that could not start: its IPC channel would keep it alive (and unreplaced).
if (code !== -1 && process.send !== undefined) process.exit(code);
export {};
