-- AlterTable
ALTER TABLE "TotpFactor" ADD COLUMN "enrolFlowId" TEXT;
ALTER TABLE "TotpFactor" ADD COLUMN "lastUsedStep" INTEGER;

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_IdentityProvider" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "entityId" TEXT NOT NULL,
    "ssoUrl" TEXT NOT NULL,
    "ssoBinding" TEXT NOT NULL DEFAULT 'redirect',
    "sloUrl" TEXT,
    "certificates" TEXT NOT NULL DEFAULT '[]',
    "signRequests" BOOLEAN NOT NULL DEFAULT true,
    "wantResponseSigned" BOOLEAN NOT NULL DEFAULT false,
    "wantAssertionSigned" BOOLEAN NOT NULL DEFAULT true,
    "allowIdpInitiated" BOOLEAN NOT NULL DEFAULT false,
    "defaultAppId" TEXT,
    "allowSha1" BOOLEAN NOT NULL DEFAULT false,
    "acceptUnsignedLogoutResponse" BOOLEAN NOT NULL DEFAULT false,
    "emailDomains" TEXT NOT NULL DEFAULT '[]',
    "linkingMode" TEXT NOT NULL DEFAULT 'verified-domains',
    "mappingPreset" TEXT NOT NULL DEFAULT 'okta',
    "attributeMapping" TEXT NOT NULL DEFAULT '{}',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "metadataUrl" TEXT,
    "metadataXml" TEXT,
    "metadataFetchedAt" DATETIME,
    "metadataValidUntil" DATETIME,
    "metadataRefreshAt" DATETIME,
    "metadataSigningCertificate" TEXT,
    "metadataError" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "IdentityProvider_orgId_fkey" FOREIGN KEY ("orgId") REFERENCES "Organization" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_IdentityProvider" ("allowIdpInitiated", "allowSha1", "attributeMapping", "certificates", "createdAt", "defaultAppId", "enabled", "entityId", "id", "mappingPreset", "metadataError", "metadataFetchedAt", "metadataRefreshAt", "metadataSigningCertificate", "metadataUrl", "metadataValidUntil", "metadataXml", "name", "orgId", "signRequests", "sloUrl", "ssoBinding", "ssoUrl", "updatedAt", "wantAssertionSigned", "wantResponseSigned") SELECT "allowIdpInitiated", "allowSha1", "attributeMapping", "certificates", "createdAt", "defaultAppId", "enabled", "entityId", "id", "mappingPreset", "metadataError", "metadataFetchedAt", "metadataRefreshAt", "metadataSigningCertificate", "metadataUrl", "metadataValidUntil", "metadataXml", "name", "orgId", "signRequests", "sloUrl", "ssoBinding", "ssoUrl", "updatedAt", "wantAssertionSigned", "wantResponseSigned" FROM "IdentityProvider";
DROP TABLE "IdentityProvider";
ALTER TABLE "new_IdentityProvider" RENAME TO "IdentityProvider";
CREATE INDEX "IdentityProvider_orgId_idx" ON "IdentityProvider"("orgId");
CREATE INDEX "IdentityProvider_metadataRefreshAt_idx" ON "IdentityProvider"("metadataRefreshAt");
CREATE UNIQUE INDEX "IdentityProvider_orgId_entityId_key" ON "IdentityProvider"("orgId", "entityId");
CREATE TABLE "new_Application" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "entityId" TEXT NOT NULL,
    "acsUrls" TEXT NOT NULL DEFAULT '[]',
    "sloUrl" TEXT,
    "certificate" TEXT,
    "wantAuthnRequestsSigned" BOOLEAN NOT NULL DEFAULT false,
    "signResponse" BOOLEAN NOT NULL DEFAULT true,
    "signAssertion" BOOLEAN NOT NULL DEFAULT false,
    "encryptAssertion" BOOLEAN NOT NULL DEFAULT false,
    "nameIdFormat" TEXT NOT NULL DEFAULT 'emailAddress',
    "attributeRelease" TEXT NOT NULL DEFAULT '["email","firstName","lastName","groups"]',
    "defaultRelayState" TEXT,
    "primaryIdpId" TEXT,
    "allowSha1" BOOLEAN NOT NULL DEFAULT false,
    "policy" TEXT NOT NULL DEFAULT '[]',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Application_orgId_fkey" FOREIGN KEY ("orgId") REFERENCES "Organization" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Application" ("acsUrls", "attributeRelease", "certificate", "createdAt", "defaultRelayState", "enabled", "encryptAssertion", "entityId", "id", "name", "nameIdFormat", "orgId", "policy", "primaryIdpId", "signAssertion", "signResponse", "sloUrl", "updatedAt", "wantAuthnRequestsSigned") SELECT "acsUrls", "attributeRelease", "certificate", "createdAt", "defaultRelayState", "enabled", "encryptAssertion", "entityId", "id", "name", "nameIdFormat", "orgId", "policy", "primaryIdpId", "signAssertion", "signResponse", "sloUrl", "updatedAt", "wantAuthnRequestsSigned" FROM "Application";
DROP TABLE "Application";
ALTER TABLE "new_Application" RENAME TO "Application";
CREATE INDEX "Application_orgId_idx" ON "Application"("orgId");
CREATE UNIQUE INDEX "Application_orgId_entityId_key" ON "Application"("orgId", "entityId");
CREATE TABLE "new_UserIdentity" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "idpId" TEXT NOT NULL,
    "nameId" TEXT NOT NULL,
    "source" TEXT NOT NULL DEFAULT 'login',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "UserIdentity_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_UserIdentity" ("createdAt", "id", "idpId", "nameId", "orgId", "userId") SELECT "createdAt", "id", "idpId", "nameId", "orgId", "userId" FROM "UserIdentity";
DROP TABLE "UserIdentity";
ALTER TABLE "new_UserIdentity" RENAME TO "UserIdentity";
CREATE INDEX "UserIdentity_userId_idx" ON "UserIdentity"("userId");
CREATE UNIQUE INDEX "UserIdentity_orgId_idpId_nameId_key" ON "UserIdentity"("orgId", "idpId", "nameId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- Upstream AuthnRequests are signed by default now, and SP metadata says so: existing IdPs sign too (a per-IdP switch turns it off)
UPDATE "IdentityProvider" SET "signRequests" = true;
