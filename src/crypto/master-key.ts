// The master key encrypts everything secret at rest (signing keys, TOTP secrets). It comes from MASTER_KEY or
// MASTER_KEY_FILE. Without either, outside production, a development key is generated once into ./data so that a
// first `npm start` just works, and every start says loudly that this is not for production.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Config } from '../config/config.ts';

export const DEV_MASTER_KEY_PATH = resolve('data/master.key');

export function decodeMasterKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32)
    throw new Error(
      `${source}: the master key must be 32 bytes, as 64 hex digits or base64 (generate one with: openssl rand -base64 32)`,
    );
  return key;
}

export interface MasterKeyResult {
  key: Buffer;
  warning?: string;
}

export function loadMasterKey(config: Config, devKeyPath = DEV_MASTER_KEY_PATH): MasterKeyResult {
  if (config.masterKey) return { key: decodeMasterKey(config.masterKey, 'MASTER_KEY') };
  if (config.masterKeyFile)
    return { key: decodeMasterKey(readFileSync(config.masterKeyFile, 'utf8'), 'MASTER_KEY_FILE') };
  if (config.env === 'production')
    throw new Error(
      'MASTER_KEY: required in production (or MASTER_KEY_FILE); generate one with: openssl rand -base64 32',
    );
  if (!existsSync(devKeyPath)) {
    mkdirSync(dirname(devKeyPath), { recursive: true });
    writeFileSync(devKeyPath, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
  }
  return {
    key: decodeMasterKey(readFileSync(devKeyPath, 'utf8'), devKeyPath),
    warning: `MASTER_KEY is not set: using the DEVELOPMENT master key in ${devKeyPath}. Anyone who reads that file can read every private key and TOTP secret. Set MASTER_KEY (openssl rand -base64 32) before real use.`,
  };
}
