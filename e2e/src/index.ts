// The end-to-end harness: run the whole pipeline as real processes and check what it produced.
// Used by the chaos suite (here) and the end-to-end benchmark (bench/e2e).
// The app-process launcher lives in @wikimonitor/testing (shared with the integration tests and benchmarks).
export { APP_NAMES, type AppName, type AppProcess, type AppProcessOptions, createAppProcess, killAllAppProcesses } from '@wikimonitor/testing';
export * from './checks';
export * from './input';
export * from './pipeline';
export * from './recount';
export * from './stack';
export * from './tcp-proxy';
export * from './verify';
export * from './webhook';
