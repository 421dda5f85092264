// Moved to src/models/words.ts (the shipped CLI uses it; src/ never imports the dev-only models/).
export * from '../src/models/words.js';
