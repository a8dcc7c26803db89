-- CreateTable
CREATE TABLE "Operator" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "email" TEXT NOT NULL,
    "emailLower" TEXT NOT NULL,
    "name" TEXT,
    "passwordHash" TEXT NOT NULL,
    "totpSecretEnc" TEXT,
    "failedLogins" INTEGER NOT NULL DEFAULT 0,
    "lockedUntil" DATETIME,
    "mustChangePassword" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastLoginAt" DATETIME
);

-- CreateTable
CREATE TABLE "OperatorSession" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "operatorId" TEXT NOT NULL,
    "csrfToken" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "PlatformAuditEvent" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "type" TEXT NOT NULL,
    "outcome" TEXT NOT NULL DEFAULT 'success',
    "code" TEXT,
    "actor" TEXT,
    "orgId" TEXT,
    "orgSlug" TEXT,
    "details" TEXT NOT NULL DEFAULT '{}'
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Organization" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "logoUrl" TEXT,
    "primaryColor" TEXT NOT NULL DEFAULT '#1f4fd1',
    "accentColor" TEXT NOT NULL DEFAULT '#0f172a',
    "loginMessage" TEXT,
    "logo" BLOB,
    "logoContentType" TEXT,
    "jitProvisioning" BOOLEAN NOT NULL DEFAULT false,
    "sessionTtlSeconds" INTEGER NOT NULL DEFAULT 28800,
    "totpDigits" INTEGER NOT NULL DEFAULT 6,
    "totpPeriod" INTEGER NOT NULL DEFAULT 30,
    "totpAlgorithm" TEXT NOT NULL DEFAULT 'SHA1',
    "requireAdminTotp" BOOLEAN NOT NULL DEFAULT false,
    "notifyNewDevice" BOOLEAN NOT NULL DEFAULT false,
    "suspendedAt" DATETIME
);
INSERT INTO "new_Organization" ("accentColor", "createdAt", "id", "jitProvisioning", "loginMessage", "logo", "logoContentType", "logoUrl", "name", "primaryColor", "requireAdminTotp", "sessionTtlSeconds", "slug", "totpAlgorithm", "totpDigits", "totpPeriod", "updatedAt") SELECT "accentColor", "createdAt", "id", "jitProvisioning", "loginMessage", "logo", "logoContentType", "logoUrl", "name", "primaryColor", "requireAdminTotp", "sessionTtlSeconds", "slug", "totpAlgorithm", "totpDigits", "totpPeriod", "updatedAt" FROM "Organization";
DROP TABLE "Organization";
ALTER TABLE "new_Organization" RENAME TO "Organization";
CREATE UNIQUE INDEX "Organization_slug_key" ON "Organization"("slug");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "Operator_emailLower_key" ON "Operator"("emailLower");

-- CreateIndex
CREATE INDEX "OperatorSession_expiresAt_idx" ON "OperatorSession"("expiresAt");

-- CreateIndex
CREATE INDEX "PlatformAuditEvent_at_idx" ON "PlatformAuditEvent"("at");
