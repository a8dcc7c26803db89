// A real SMTP server for the e-mail tests: Debian's aiosmtpd (python3-aiosmtpd) with smtp_sink.py's handler, which
// writes every accepted message as JSON into a temporary folder. `messages()` reads them; `waitFor` polls until one
// matching arrives (messages caused by a login are sent in the background).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './own-services.ts';

export interface SunkMessage {
  mailFrom: string;
  rcptTos: string[];
  subject: string;
  from: string;
  to: string;
  contentType: string;
  text: string | null;
  html: string | null;
}

export interface SmtpSink {
  url: string;
  port: number;
  messages(): SunkMessage[];
  waitFor(match: (m: SunkMessage) => boolean, timeoutMs?: number): Promise<SunkMessage>;
  stop(): Promise<void>;
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    }); // the 220 greeting
    socket.once('error', () => resolve(false));
  });

export async function startSmtpSink(): Promise<SmtpSink> {
  const folder = mkdtempSync(join(tmpdir(), 'smtp-sink-'));
  const port = await freePort();
  // Debian's python3 (the one with python3-aiosmtpd), not a pyenv one that may come first on PATH.
  const child: ChildProcess = spawn(
    '/usr/bin/python3',
    ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'smtp_sink.JsonSink', folder],
    {
      env: { ...process.env, PYTHONPATH: dirname(fileURLToPath(import.meta.url)) },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  for (let i = 0; !(await answers(port)); i++) {
    if (child.exitCode !== null || i > 100) {
      child.kill();
      throw new Error(`aiosmtpd did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const messages = () =>
    readdirSync(folder)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(folder, f), 'utf8')) as SunkMessage);
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    async waitFor(match, timeoutMs = 15_000) {
      for (const until = Date.now() + timeoutMs; Date.now() < until;) {
        const found = messages().find(match);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(
        `no matching message arrived; got ${JSON.stringify(messages().map((m) => [m.rcptTos, m.subject]))}`,
      );
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
