// Periodic background work of a node (purging expired records, promoting signing keys on their date, refreshing
// IdP metadata). Every node runs the same tasks; each task makes its own work safe to run on several nodes at once.
// A round never overlaps the previous one, a failure is logged and the next round tries again, and the timer never
// keeps the process alive.
export interface TaskLog {
  info(o: object, m: string): void;
  error(o: object, m: string): void;
}

/** Runs `task` every `intervalSeconds` (0 = never); returns a function that stops it. */
export function every(
  intervalSeconds: number,
  name: string,
  task: () => Promise<Record<string, unknown> | null>,
  log: TaskLog,
): () => void {
  if (intervalSeconds <= 0) return () => {};
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const result = await task();
      if (result) log.info({ task: name, ...result }, `${name} done`);
    } catch (err) {
      log.error({ err, task: name }, `${name} failed`);
    } finally {
      running = false;
    }
  }, intervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
