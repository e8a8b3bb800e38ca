// The end-to-end harness: run the whole pipeline as real processes and check what it produced.
// Used by the chaos suite (here) and the end-to-end benchmark (bench/e2e).
export * from './app-process';
export * from './input';
export * from './pipeline';
export * from './recount';
export * from './stack';
export * from './tcp-proxy';
export * from './verify';
export * from './webhook';
