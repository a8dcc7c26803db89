// One SQLite connection serves the whole process (sql.ts says why), and a transaction Prisma opens on it stays open
// across awaits: a user import's batch, a key rollover, an organisation's creation. Any statement another request
// ran on the connection meanwhile would silently become part of that transaction: committed only with it, and rolled
// back with it. A login's consumed assertion ID or TOTP step would then disappear and could be replayed; its flow,
// session and audit events would be lost. The gate holds every statement from outside the transaction until the
// transaction ends. PostgreSQL needs none of this: each transaction has a connection of its own.
//
// So work inside a transaction must go through the transaction's store (Store.transaction hands it over): a statement
// through the process's store would wait for the end of the very transaction that waits for it, until Prisma's
// transaction timeout rolls it back.
import type { SqlDriverAdapter, Transaction } from '@prisma/driver-adapter-utils';

export class TransactionGate {
  private ended: Promise<void> | null = null;
  private end: (() => void) | null = null;

  /** true while a transaction is open on the connection */
  get closed(): boolean {
    return this.ended !== null;
  }

  /** Resolves once no transaction is open (at once when none is: check `closed` first to stay synchronous). */
  async pass(): Promise<void> {
    while (this.ended) await this.ended;
  }

  private close() {
    this.ended = new Promise<void>((resolve) => (this.end = resolve));
  }

  private open() {
    const end = this.end;
    this.ended = null;
    this.end = null;
    end?.();
  }

  /** Makes the adapter's statements outside a transaction wait at the gate, and its transactions close it. */
  guard(adapter: SqlDriverAdapter): SqlDriverAdapter {
    const queryRaw = adapter.queryRaw.bind(adapter);
    const executeRaw = adapter.executeRaw.bind(adapter);
    const executeScript = adapter.executeScript.bind(adapter);
    const startTransaction = adapter.startTransaction.bind(adapter);
    adapter.queryRaw = async (query) => {
      await this.pass();
      return queryRaw(query);
    };
    adapter.executeRaw = async (query) => {
      await this.pass();
      return executeRaw(query);
    };
    adapter.executeScript = async (script) => {
      await this.pass();
      return executeScript(script);
    };
    adapter.startTransaction = async (isolationLevel) => {
      // The adapter lets one transaction at a time through (its own mutex), so the gate is closed by one owner.
      const tx: Transaction = await startTransaction(isolationLevel);
      this.close();
      const commit = tx.commit.bind(tx);
      const rollback = tx.rollback.bind(tx);
      tx.commit = async () => {
        try {
          await commit();
        } finally {
          this.open();
        }
      };
      tx.rollback = async () => {
        try {
          await rollback();
        } finally {
          this.open();
        }
      };
      return tx;
    };
    return adapter;
  }
}
