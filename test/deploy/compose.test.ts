// The cluster compose file is accepted by docker-compose (Debian's, installed by .ci/run; no engine needed) and
// describes the shape the README promises.
import t from 'tap';
import { spawnSync } from 'node:child_process';

const root = new URL('../..', import.meta.url).pathname;

t.test('docker-compose config accepts docker-compose.yml', async (t) => {
  const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { cwd: root, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const resolved = r.stdout;
  for (const service of ['postgres:', 'redis:', 'broker1:', 'broker2:', 'proxy:'])
    t.match(resolved, new RegExp(`^  ${service}`, 'm'), service);
  t.match(resolved, /MASTER_KEY_FILE: \/run\/secrets\/master_key/, 'the master key comes as a secret');
  t.match(resolved, /DATABASE_URL: postgresql:\/\/broker:broker@postgres:5432\/broker/);
  t.match(resolved, /REDIS_URL: redis:\/\/redis:6379\/0/, 'the brokers share Redis for the login flows');
  t.match(resolved, /healthcheck:/);
  t.match(resolved, /pgdata:/, 'a volume for the database');
  t.notMatch(resolved, /MASTER_KEY: /, 'no master key in the environment');
});
