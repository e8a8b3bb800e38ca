#!/usr/bin/env node
// Keeps one app of the local pipeline running, as Kubernetes' restartPolicy: Always does: an app
// that exits by itself (a fatal Kafka error such as a fenced or failed transactional producer after
// a long broker outage exits with code 1 by design) is started again after a backoff, and the
// restart is written to the app's log. SIGTERM / SIGINT are passed to the app; the supervisor exits
// when the app has stopped.
//
// Usage: node tools/pipeline/supervise.mjs <app-name> <node args...>
import { spawn } from 'node:child_process';

// Not through tools/lib/cli.mjs: everything after the app name is the app's node command line, passed as is.
const USAGE = 'Usage: node tools/pipeline/supervise.mjs <app-name> <node args...>   (started by pipeline.mjs up)';
const [name, ...args] = process.argv.slice(2);
if (name === '--help' || name === '-h') {
  console.log(USAGE);
  process.exit(0);
}
if (!name || name.startsWith('-') || !args.length) {
  console.error(`supervise: error: ${name ? `not an app name: ${name}` : 'needs an app name and its node command line'}\n\n${USAGE}`);
  process.exit(2);
}

/** Backoff of consecutive restarts; a run that lasted this long resets it. */
const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000];
const STABLE_MS = 60_000;

/** @param {string} line */
const say = (line) => process.stdout.write(`${JSON.stringify({ level: 'warn', time: new Date().toISOString(), service: 'supervisor', app: name, msg: line })}\n`);

let stopping = false;
/** @type {import('node:child_process').ChildProcess | undefined} */
let child;
let failures = 0;

function start() {
  const started = Date.now();
  child = spawn(process.execPath, args, { stdio: 'inherit', env: process.env });
  child.once('exit', (code, signal) => {
    child = undefined;
    if (stopping) process.exit(code ?? 0);
    if (Date.now() - started >= STABLE_MS) failures = 0;
    const delay = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)] ?? 30_000;
    failures++;
    say(`${name} exited by itself (code ${code}, signal ${signal}); restart ${failures} in ${delay / 1000} s`);
    setTimeout(() => {
      if (!stopping) start();
    }, delay);
  });
}

for (const sig of /** @type {const} */ (['SIGTERM', 'SIGINT'])) {
  process.on(sig, () => {
    stopping = true;
    if (child) child.kill(sig);
    else process.exit(0);
  });
}
start();
