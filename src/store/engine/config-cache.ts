// A short-lived, per-process cache for the configuration every login reads several times (the organisation by
// host, its apps, IdPs and signing keys) and admins rarely change. Without it a login made a dozen identical
// lookups. Rules that keep it correct:
//  - only listed read methods are cached; any other method of a wrapped repository (a write, or a read we did not
//    list) empties the whole cache when it finishes, so a change made in this process is seen at once;
//  - another node's change is seen within CONFIG_CACHE_SECONDS (0 turns the cache off);
//  - cached values are deep-frozen, so a caller cannot change what the next request reads.
// It measures age with the process's monotonic clock, not the injectable one: expiry here is freshness, not a
// security decision, and tests that move the injected clock must not age the cache.
import { performance } from 'node:perf_hooks';

export class ConfigCache {
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();
  constructor(private readonly ttlMs: number) {}

  read<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (this.ttlMs <= 0) return load();
    const now = performance.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value as Promise<T>;
    const value = load().then(deepFreeze);
    // Set before the load finishes so concurrent readers share one query; a clear() meanwhile removes it.
    this.entries.set(key, { at: now, value });
    value.catch(() => this.entries.get(key)?.value === value && this.entries.delete(key));
    return value;
  }

  clear() {
    this.entries.clear();
  }
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value) || ArrayBuffer.isView(value)) return value;
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}

/** Wraps a repository: `reads` go through the cache (keyed by `scope`, method and arguments); every other method
 *  clears the cache once it has run. */
export function cachedRepository<T extends object>(
  repo: T,
  cache: ConfigCache,
  scope: string,
  reads: readonly (keyof T & string)[],
): T {
  return new Proxy(repo, {
    get(target, prop, receiver) {
      const member = Reflect.get(target, prop, receiver);
      if (typeof member !== 'function' || typeof prop !== 'string') return member;
      if ((reads as readonly string[]).includes(prop)) {
        return (...args: unknown[]) =>
          cache.read(`${scope}:${prop}:${JSON.stringify(args)}`, () => member.apply(target, args));
      }
      return async (...args: unknown[]) => {
        try {
          return await member.apply(target, args);
        } finally {
          cache.clear();
        }
      };
    },
  });
}
