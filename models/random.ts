// Moved to src/models/random.ts (the shipped CLI uses it; src/ never imports the dev-only models/).
export * from '../src/models/random.js';
