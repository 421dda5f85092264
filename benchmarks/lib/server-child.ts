// The body of a benchmark server process (forked by lib/server.ts): crossgate's startServer with the given
// model and settings, plus, when asked, the Node http + ws peer front-end on the same ServerContext. The
// server gets a process of its own so the load generator never shares its event loop.
import { defaultConfig, type ServerConfig } from '../../src/server/limits.js';
import { startServer } from '../../src/server/server.js';
import { startNodeFront, type NodeFront } from './node-front.js';

export interface ChildSpec { dir: string; quantized: boolean; config: Partial<ServerConfig>; peer: boolean }
export interface ChildReady { type: 'ready'; port: number; peerPort: number | null; info: { workers: number; threads: number; executionProviders: string[]; maxBatchTokens: number } }

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as ChildSpec;
  const config: ServerConfig = { ...defaultConfig(), host: '127.0.0.1', port: 0, apiKey: null, ...spec.config };
  const s = await startServer(config, { rerankers: [{ name: 'bench', dir: spec.dir }], embedders: [], quantized: spec.quantized }, { log: () => undefined });
  let peer: NodeFront | null = null;
  if (spec.peer) peer = await startNodeFront(s.ctx);
  const enc = s.ctx.reranker(null).encoder;
  process.send!({
    type: 'ready', port: s.port, peerPort: peer?.port ?? null,
    info: { workers: config.workers, threads: config.threads, executionProviders: [...enc.executionProviders], maxBatchTokens: config.maxBatchTokens },
  } satisfies ChildReady);
  process.on('message', (m) => {
    if (m !== 'shutdown') return;
    void (async () => {
      await peer?.close();
      await s.shutdown('benchmark over');
      process.exit(0);
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((e: unknown) => {
  process.stderr.write(`benchmark server failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
