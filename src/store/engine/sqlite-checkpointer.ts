// SQLite in WAL mode copies the log back into the database file at checkpoints, and with synchronous=NORMAL that is
// where the fsync happens. By default the connection that commits the 1,000th page runs the checkpoint inside that
// commit: on the server's only connection, a login request then waits for the disk (it made the average write
// about 60 % more expensive here, and made the slowest requests). The server instead turns automatic checkpoints off
// on its connection and checkpoints from a worker thread with a connection of its own.
//
// A PASSIVE checkpoint copies the log without blocking anyone, but under steady writes it is never enough on its
// own: a writer starts the log again from its beginning only when, as its transaction begins, every frame has been
// copied, and with a commit every few hundred microseconds some frame never has. The log then grows for as long as
// the load lasts (750 MB in 12 s of the SSO benchmark), and every append to new file space costs the kernel a
// zeroed page (16 % of the broker's CPU). So once the log is past RESTART_FRAMES after the passive pass, a RESTART
// checkpoint copies the little written meanwhile and holds the write lock until no reader uses the log: the next
// commit then writes from the start of the file again. It blocks writers for a few milliseconds; its short busy
// timeout makes it give up (and try again next time) rather than wait on a long transaction of the server's.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Plain CommonJS evaluated in the worker: the same in the TypeScript sources and the compiled build.
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
const timer = setInterval(() => {
  try {
    const [pass] = db.pragma('wal_checkpoint(PASSIVE)');
    if (pass.log > workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
  } catch (err) { parentPort.postMessage(String(err && err.message || err)); }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
  db.close();
  parentPort.postMessage('stopped');
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/** Log frames (pages, about 40 MB) past which the log is restarted. The file keeps its largest size, so once it is
 *  that large, appends reuse its space; a higher threshold only makes the restarts, which hold writers, rarer. */
export const RESTART_FRAMES = 10_000;
/** How long the RESTART waits for a writer or a reader of the server before it gives up until the next interval. */
const BUSY_TIMEOUT_MS = 20;

export function startCheckpointer(
  path: string,
  intervalMs: number,
  onError: (message: string) => void,
  restartFrames = RESTART_FRAMES,
): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { path, intervalMs, driver, restartFrames, busyTimeoutMs: BUSY_TIMEOUT_MS },
  });
  worker.unref();
  let stopped: Promise<void> | undefined;
  worker.on('message', (m) => {
    if (m !== 'stopped') onError(m);
  });
  worker.on('error', (err) => onError(err.message));
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.once('message', (m) => {
          if (m === 'stopped') void worker.terminate();
        });
        worker.postMessage('stop');
      });
      return stopped;
    },
  };
}
