// SQLite in WAL mode copies the log back into the database file at checkpoints, and with synchronous=NORMAL that is
// where the fsync happens. By default the connection that commits the 1,000th page runs the checkpoint inside that
// commit: on the server's only connection, a login request then waits for the disk (it made the average write
// about 60 % more expensive here, and made the slowest requests). The server instead turns automatic checkpoints off on its connection
// and runs passive checkpoints from a worker thread with a connection of its own: they never block a writer, and
// the fsync waits off the event loop.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Plain CommonJS evaluated in the worker: the same in the TypeScript sources and the compiled build.
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: 1000 });
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage(String(err && err.message || err)); }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
  db.close();
  parentPort.postMessage('stopped');
});
`;

export interface Checkpointer { stop(): Promise<void> }

export function startCheckpointer(path: string, intervalMs: number, onError: (message: string) => void): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { path, intervalMs, driver } });
  worker.unref();
  let stopped: Promise<void> | undefined;
  worker.on('message', (m) => { if (m !== 'stopped') onError(m); });
  worker.on('error', (err) => onError(err.message));
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.once('message', (m) => { if (m === 'stopped') void worker.terminate(); });
        worker.postMessage('stop');
      });
      return stopped;
    },
  };
}
