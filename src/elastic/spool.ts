import { appendFileSync, closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The on-disk side of the shipper: a folder of chunk files, one NDJSON document per line, named so that sorting
 * by name is sorting by age across restarts. A chunk file is deleted only once every document in it has been
 * delivered or dead-lettered, so whatever is on disk is exactly what is still owed to Elasticsearch.
 */

export interface ChunkFile {
  name: string;
  path: string;
  bytes: number;
}

export interface ChunkWriter {
  readonly name: string;
  readonly path: string;
  /**
   * Appends lines; written to the OS at once when `sync`, otherwise buffered until the next sync append or close.
   * When the write fails (a full disk) it throws, and `text` is neither in the file nor in the buffer; lines
   * buffered before it stay buffered for the next write.
   */
  append(text: string, sync: boolean): void;
  /**
   * Writes what is buffered (write(2), no fsync: a killed process loses nothing, a lost machine may). A failed
   * write is cut back out of the file, so the file only ever holds whole lines, and the buffer is kept.
   */
  flush(): void;
  /** Flushes and closes; the file is closed even when the flush throws. */
  close(): void;
}

export interface Spool {
  readonly dir: string;
  /** Chunk files left by an earlier run (or this one), oldest first. */
  list(): ChunkFile[];
  create(): ChunkWriter;
  read(path: string): string[];
  /** Lines in a chunk file (a torn last line counts), without decoding it: replay needs the figure at start. */
  count(path: string): number;
  remove(path: string): void;
  /** Appends one JSON line to deadletter.ndjson; kept forever, for people to inspect. */
  deadLetter(entry: Record<string, unknown>): void;
  /** Whether a page-sized file can be written in the folder now (after a failed write: has space come back?). */
  probe(): boolean;
}

export interface SpoolOptions {
  /** The clock that names chunk files. Default Date.now. */
  now?: () => number;
}

const CHUNK = /^chunk-\d{14}-\d{8}\.ndjson$/;
/** Appends of buffered (non-durable) lines are written to the OS once this much has accumulated. */
const WRITE_BUFFER_CHARS = 256 * 1024;
const NEWLINE = 0x0a;
/** One memory page: a full tmpfs or disk refuses it, as it refuses the next chunk line. */
const PROBE = Buffer.alloc(4096);

export function createSpool(dir: string, options: SpoolOptions = {}): Spool {
  const now = options.now ?? (() => Date.now());
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let seq = 0;
  const stamp = (): string => `${String(now()).padStart(14, '0')}-${String(seq++ % 1e8).padStart(8, '0')}`;
  return {
    dir,
    list() {
      return readdirSync(dir)
        .filter((name) => CHUNK.test(name))
        .sort()
        .map((name) => ({ name, path: join(dir, name), bytes: statSync(join(dir, name)).size }));
    },
    create() {
      const name = `chunk-${stamp()}.ndjson`;
      const path = join(dir, name);
      const fd = openSync(path, 'a', 0o600);
      let buffer = '';
      let open = true;
      /** Bytes of whole lines in the file. */
      let written = 0;
      const flush = (): void => {
        if (!buffer || !open) return;
        const data = Buffer.from(buffer);
        try {
          // write(2) may write part of the data before the disk fills up; Node does not loop for us.
          for (let at = 0; at < data.length;) at += writeSync(fd, data, at);
        } catch (error) {
          try {
            ftruncateSync(fd, written);
          } catch {
            // the next successful flush writes after the fragment; replay skips a line it cannot parse
          }
          throw error;
        }
        written += data.length;
        buffer = '';
      };
      return {
        name,
        path,
        append(text, sync) {
          const before = buffer.length;
          buffer += text;
          if (!sync && buffer.length <= WRITE_BUFFER_CHARS) return;
          try {
            flush();
          } catch (error) {
            buffer = buffer.slice(0, before);
            throw error;
          }
        },
        flush,
        close() {
          if (!open) return;
          try {
            flush();
          } finally {
            open = false;
            closeSync(fd);
          }
        },
      };
    },
    read(path) {
      if (!existsSync(path)) return [];
      return readFileSync(path, 'utf8').split('\n').filter((line) => line.length > 0);
    },
    count(path) {
      if (!existsSync(path)) return 0;
      const data = readFileSync(path);
      let lines = 0;
      for (let at = data.indexOf(NEWLINE); at !== -1; at = data.indexOf(NEWLINE, at + 1)) lines += 1;
      return data.length > 0 && data[data.length - 1] !== NEWLINE ? lines + 1 : lines;
    },
    remove(path) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
    deadLetter(entry) {
      appendFileSync(join(dir, 'deadletter.ndjson'), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    },
    probe() {
      const path = join(dir, '.probe');
      try {
        writeFileSync(path, PROBE, { mode: 0o600 });
        return true;
      } catch {
        return false;
      } finally {
        try {
          unlinkSync(path);
        } catch {
          // not there
        }
      }
    },
  };
}
