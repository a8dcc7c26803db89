// How long one `npm run cli` command takes, from process start to exit, as `npm run cli` runs it (node with the tsx
// loader, on the sources). `--compare <checkout>` runs the same command from another checkout in alternation with
// this one, so that both see the same machine (this VM's speed drifts): for example
// `git archive <commit> | tar -x -C /tmp/base`, then link node_modules and copy generated/ into it.
//
//   npm run bench:cli -- [--compare <checkout>] [--runs 7] [--command "org list"]
//
// Each checkout gets its own migrated SQLite database first (not measured). Reports the median and range of wall
// time and of CPU time (user + system, from /usr/bin/time) per checkout.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    compare: { type: 'string' },
    runs: { type: 'string', default: '7' },
    command: { type: 'string', default: 'org list' },
  },
});
const here = resolve(new URL('..', import.meta.url).pathname);
const checkouts = [here, ...(values.compare ? [resolve(values.compare)] : [])];
const runs = Number(values.runs);
const args = values.command!.split(' ').filter(Boolean);
const dir = mkdtempSync(join(tmpdir(), 'bench-cli-'));
const haveTime = existsSync('/usr/bin/time');

function run(checkout: string, index: number, cliArgs: string[]): { wall: number; cpu: number | null } {
  const env = {
    PATH: process.env.PATH!,
    DATABASE_URL: `file:${join(dir, `db-${index}.db`)}`,
    MASTER_KEY: Buffer.alloc(32, 1).toString('base64'),
  };
  const node = ['node', '--max-old-space-size=192', '--import', 'tsx', 'src/cli/index.ts', ...cliArgs];
  const started = process.hrtime.bigint();
  const r = haveTime
    ? spawnSync('/usr/bin/time', ['-f', '%U %S', ...node], { cwd: checkout, env, encoding: 'utf8' })
    : spawnSync(node[0], node.slice(1), { cwd: checkout, env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${checkout}: ${cliArgs.join(' ')} exited ${r.status}: ${r.stderr}`);
  const times = haveTime ? /(\d+\.\d+) (\d+\.\d+)\s*$/.exec(r.stderr) : null;
  return { wall, cpu: times ? (Number(times[1]) + Number(times[2])) * 1000 : null };
}

checkouts.forEach((c, i) => run(c, i, ['migrate']));
const results = checkouts.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
for (let n = 0; n < runs; n++) {
  checkouts.forEach((c, i) => {
    const r = run(c, i, args);
    results[i].wall.push(r.wall);
    if (r.cpu !== null) results[i].cpu.push(r.cpu);
  });
}
const summary = (xs: number[]) =>
  xs.length
    ? `${(median(xs) / 1000).toFixed(2)} s (${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)})`
    : 'n/a';
console.log(`npm run cli -- ${args.join(' ')}: ${runs} runs each, alternating`);
console.log('| checkout | wall, median (range) | CPU user+sys, median (range) |\n|---|---|---|');
checkouts.forEach((c, i) => console.log(`| ${c} | ${summary(results[i].wall)} | ${summary(results[i].cpu)} |`));
