// "Remember this device": after a second factor, a signed HttpOnly cookie lets the same browser skip the factor for
// N days. The cookie names a device row (listed and revocable by the admin) and carries an HMAC binding it to the
// organisation, the user and the expiry, so it can be neither forged nor moved to another user.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { TenantStore } from '../store/store.ts';

export const DEVICE_COOKIE = 'broker_device';

export class RememberedDevices {
  constructor(
    private readonly store: TenantStore,
    private readonly key: Buffer,
    private readonly clock: Clock,
  ) {}

  private mac(userId: string, deviceId: string, expiresAt: Date) {
    return createHmac('sha256', this.key)
      .update(`${this.store.orgId}|${userId}|${deviceId}|${expiresAt.getTime()}`)
      .digest('base64url');
  }

  async remember(
    userId: string,
    days: number,
    label: string | null,
  ): Promise<{ cookie: string; maxAgeSeconds: number }> {
    const expiresAt = new Date(this.clock.now().getTime() + days * 86400_000);
    const row = await this.store.devices.create({ userId, label: label?.slice(0, 200) ?? null, expiresAt });
    await this.store.audit.record({
      type: 'mfa.device_remembered',
      userId,
      at: this.clock.now(),
      details: { deviceId: row.id, days },
    });
    return { cookie: `${row.id}.${this.mac(userId, row.id, expiresAt)}`, maxAgeSeconds: days * 86400 };
  }

  async check(cookie: string | undefined, userId: string): Promise<boolean> {
    if (!cookie) return false;
    const [deviceId, mac] = cookie.split('.');
    if (!deviceId || !mac || deviceId.length > 64) return false;
    const row = await this.store.devices.find(deviceId);
    if (!row || row.userId !== userId || row.revokedAt || row.expiresAt <= this.clock.now()) return false;
    const expected = Buffer.from(this.mac(userId, row.id, row.expiresAt));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  list(userId: string) {
    return this.store.devices.list(userId);
  }
  async revoke(userId: string, deviceId: string | null, actor: string) {
    const count = await this.store.devices.revoke(userId, deviceId, this.clock.now());
    await this.store.audit.record({
      type: 'mfa.device_revoked',
      actor,
      userId,
      at: this.clock.now(),
      details: { deviceId, count },
    });
    return count;
  }
}
