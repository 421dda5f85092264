// The library's public entry point: re-exports the typed classes from each room.
export { packageRoot } from './native.js';
