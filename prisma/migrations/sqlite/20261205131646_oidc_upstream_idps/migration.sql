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
    "protocol" TEXT NOT NULL DEFAULT 'saml',
    "oidcDiscovery" TEXT,
    "oidcClientId" TEXT,
    "oidcClientSecret" TEXT,
    "oidcClientAuth" TEXT NOT NULL DEFAULT 'client_secret_basic',
    "oidcScopes" TEXT NOT NULL DEFAULT 'openid email profile',
    "oidcUserinfo" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "IdentityProvider_orgId_fkey" FOREIGN KEY ("orgId") REFERENCES "Organization" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_IdentityProvider" ("acceptUnsignedLogoutResponse", "allowIdpInitiated", "allowSha1", "attributeMapping", "certificates", "createdAt", "defaultAppId", "emailDomains", "enabled", "entityId", "id", "linkingMode", "mappingPreset", "metadataError", "metadataFetchedAt", "metadataRefreshAt", "metadataSigningCertificate", "metadataUrl", "metadataValidUntil", "metadataXml", "name", "orgId", "signRequests", "sloUrl", "ssoBinding", "ssoUrl", "updatedAt", "wantAssertionSigned", "wantResponseSigned") SELECT "acceptUnsignedLogoutResponse", "allowIdpInitiated", "allowSha1", "attributeMapping", "certificates", "createdAt", "defaultAppId", "emailDomains", "enabled", "entityId", "id", "linkingMode", "mappingPreset", "metadataError", "metadataFetchedAt", "metadataRefreshAt", "metadataSigningCertificate", "metadataUrl", "metadataValidUntil", "metadataXml", "name", "orgId", "signRequests", "sloUrl", "ssoBinding", "ssoUrl", "updatedAt", "wantAssertionSigned", "wantResponseSigned" FROM "IdentityProvider";
DROP TABLE "IdentityProvider";
ALTER TABLE "new_IdentityProvider" RENAME TO "IdentityProvider";
CREATE INDEX "IdentityProvider_orgId_idx" ON "IdentityProvider"("orgId");
CREATE INDEX "IdentityProvider_metadataRefreshAt_idx" ON "IdentityProvider"("metadataRefreshAt");
CREATE UNIQUE INDEX "IdentityProvider_orgId_entityId_key" ON "IdentityProvider"("orgId", "entityId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
