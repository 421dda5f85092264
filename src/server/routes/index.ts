// The route table: every family's routes, in the order /openapi.json lists them.
import { COHERE_ROUTES } from './cohere.js';
import { CROSSGATE_ROUTES } from './crossgate.js';
import { OPENAI_ROUTES } from './openai.js';
import { OPERATIONS_ROUTES } from './operations.js';
import type { Route } from './route.js';
import { TEI_ROUTES } from './tei.js';

export type { HandlerInput, HandlerOutput, HttpDeps, Route, RouteDoc } from './route.js';

export function routes(): Route[] {
  return [...TEI_ROUTES, ...COHERE_ROUTES, ...OPENAI_ROUTES, ...CROSSGATE_ROUTES, ...OPERATIONS_ROUTES];
}
