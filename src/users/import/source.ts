// Where an import reads from: a file on disk (CLI, or an API upload spooled to a temporary file) or bytes in
// memory (tests, small API bodies). An import reads its source more than once (validate, then write), so a source
// is re-readable. A file is opened once and every pass reads that same open file, so replacing the path while an
// import runs does not change what it reads.
import { open, type FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';

export type ImportFormat = 'csv' | 'json';
export type ImportSource = { path: string } | { data: Buffer | string; name?: string };

export interface OpenedSource {
  name: string;
  size: number;
  format: ImportFormat;
  chunks(): AsyncIterable<Buffer>;
  close(): Promise<void>;
}

const CHUNK = 256 * 1024;

export async function openSource(source: ImportSource, format?: ImportFormat): Promise<OpenedSource> {
  if ('path' in source) {
    const handle: FileHandle = await open(source.path, 'r');
    try {
      const { size } = await handle.stat();
      return {
        name: source.path,
        size,
        format: format ?? formatByName(source.path) ?? (await sniffFormat(handle)),
        chunks: () =>
          handle.createReadStream({ start: 0, autoClose: false, highWaterMark: CHUNK }) as AsyncIterable<Buffer>,
        close: () => handle.close(),
      };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
  const data = typeof source.data === 'string' ? Buffer.from(source.data, 'utf8') : source.data;
  return {
    name: source.name ?? 'upload',
    size: data.length,
    format: format ?? (source.name ? formatByName(source.name) : null) ?? formatOf(data.subarray(0, 1024)),
    async *chunks() {
      for (let i = 0; i < data.length; i += CHUNK) yield data.subarray(i, i + CHUNK);
    },
    close: async () => {},
  };
}

function formatByName(path: string): ImportFormat | null {
  const ext = extname(path).toLowerCase();
  return ext === '.json' ? 'json' : ext === '.csv' || ext === '.txt' ? 'csv' : null;
}

async function sniffFormat(handle: FileHandle): Promise<ImportFormat> {
  const head = Buffer.alloc(1024);
  const { bytesRead } = await handle.read(head, 0, head.length, 0);
  return formatOf(head.subarray(0, bytesRead));
}

/** JSON when the first character (after a BOM and whitespace) opens an array; CSV otherwise. */
function formatOf(head: Buffer): ImportFormat {
  return /^\s*\[/.test(head.toString('utf8').replace(/^\uFEFF/, '')) ? 'json' : 'csv';
}
