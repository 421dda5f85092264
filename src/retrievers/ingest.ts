// What loading a corpus into an outside engine reports, shared by the engines' ingest() methods.
import type { CollectionDocument } from '../pipeline/collection.js';

export interface IngestOptions {
  /** Called after each batch with the running totals. */
  onProgress?: (added: number, skipped: number) => void;
}

export interface IngestResult {
  /** Documents written by this run. */
  added: number;
  /** Documents whose id the engine already held (an earlier, possibly interrupted, run): left as they were. */
  skipped: number;
}

/** An engine crossgate can load documents into. */
export interface IngestTarget {
  readonly name: string;
  ingest(batches: AsyncIterable<CollectionDocument[]>, opts?: IngestOptions): Promise<IngestResult>;
  close(): Promise<void>;
}
