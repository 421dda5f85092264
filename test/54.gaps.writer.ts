// A child process for the gap-log crash test: appends gap entries as fast as it can and prints
// "ack N" once entry N is acknowledged (written and fsynced), until the parent kills it with SIGKILL.
import { GapLog } from '../src/pipeline/gaps.js';

const path = process.argv[2];
const log = new GapLog(path);
for (let i = 0; ; i++) {
  await log.append({ t: new Date().toISOString(), outcome: 'no_relevant', collection: 'crash-test', query: `query number ${i}`, best: 0.01, top: ['a'], path: ['x:dense'], candidates: 1 });
  process.stdout.write(`ack ${i}\n`);
}
