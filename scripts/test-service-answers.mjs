// Exit 0 when the PostgreSQL or Redis server at a URL answers within two seconds, 1 otherwise (used by test-all.sh).
// Usage: node scripts/test-service-answers.mjs pg|redis <url>
import pg from 'pg';
import { Redis } from 'ioredis';

const [kind, url] = process.argv.slice(2);
const timeout = setTimeout(() => process.exit(1), 2000);
try {
  if (kind === 'pg') {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
  } else if (kind === 'redis') {
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => {}); // the failed connect is reported by connect() below
    await client.connect();
    await client.ping();
    client.disconnect();
  } else {
    throw new Error(`unknown service kind ${kind}`);
  }
  clearTimeout(timeout);
  process.exit(0);
} catch {
  process.exit(1);
}
