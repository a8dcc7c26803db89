-- Foreign keys that carry the organisation (issue 18): every reference from one tenant row to another is
-- (orgId, <id>) -> the parent's (orgId, id), so the database refuses a row that points into another organisation.
-- Written by hand from the schema engine's diff. SQLite cannot add a constraint to a table, so each child table is
-- rebuilt (the usual new_<table>, copy, drop, rename). The parents' (orgId, id) unique indexes come first: a foreign
-- key needs one. SessionApp gains orgId, copied from its BrokerSession. Rows that point at a parent missing from
-- their own organisation (left behind before these keys existed, e.g. the sessions of a deleted user) are not
-- copied: the new constraints would refuse them.

-- CreateIndex
CREATE UNIQUE INDEX "IdentityProvider_orgId_id_key" ON "IdentityProvider"("orgId", "id");
CREATE UNIQUE INDEX "Application_orgId_id_key" ON "Application"("orgId", "id");
CREATE UNIQUE INDEX "User_orgId_id_key" ON "User"("orgId", "id");
CREATE UNIQUE INDEX "Admin_orgId_id_key" ON "Admin"("orgId", "id");

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_UserIdentity" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "idpId" TEXT NOT NULL,
    "nameId" TEXT NOT NULL,
    "source" TEXT NOT NULL DEFAULT 'login',
    "externalId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "UserIdentity_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "UserIdentity_orgId_idpId_fkey" FOREIGN KEY ("orgId", "idpId") REFERENCES "IdentityProvider" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_UserIdentity" ("createdAt", "externalId", "id", "idpId", "nameId", "orgId", "source", "userId") SELECT "createdAt", "externalId", "id", "idpId", "nameId", "orgId", "source", "userId" FROM "UserIdentity" c WHERE EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId") AND EXISTS (SELECT 1 FROM "IdentityProvider" p WHERE p."orgId" = c."orgId" AND p."id" = c."idpId");
DROP TABLE "UserIdentity";
ALTER TABLE "new_UserIdentity" RENAME TO "UserIdentity";
CREATE INDEX "UserIdentity_userId_idx" ON "UserIdentity"("userId");
CREATE INDEX "UserIdentity_orgId_idpId_externalId_idx" ON "UserIdentity"("orgId", "idpId", "externalId");
CREATE UNIQUE INDEX "UserIdentity_orgId_idpId_nameId_key" ON "UserIdentity"("orgId", "idpId", "nameId");
-- kept from the scim_indexes migration (an expression index the schema cannot declare)
CREATE INDEX "UserIdentity_orgId_idpId_lower_nameId_idx" ON "UserIdentity"("orgId", "idpId", lower("nameId"));
CREATE TABLE "new_TotpFactor" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "secretEnc" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "algorithm" TEXT NOT NULL DEFAULT 'SHA1',
    "digits" INTEGER NOT NULL DEFAULT 6,
    "period" INTEGER NOT NULL DEFAULT 30,
    "failedAttempts" INTEGER NOT NULL DEFAULT 0,
    "lockedUntil" DATETIME,
    "lastUsedStep" INTEGER,
    "enrolFlowId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "confirmedAt" DATETIME,
    CONSTRAINT "TotpFactor_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_TotpFactor" ("algorithm", "confirmedAt", "createdAt", "digits", "enrolFlowId", "failedAttempts", "id", "lastUsedStep", "lockedUntil", "orgId", "period", "secretEnc", "status", "userId") SELECT "algorithm", "confirmedAt", "createdAt", "digits", "enrolFlowId", "failedAttempts", "id", "lastUsedStep", "lockedUntil", "orgId", "period", "secretEnc", "status", "userId" FROM "TotpFactor" c WHERE EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DROP TABLE "TotpFactor";
ALTER TABLE "new_TotpFactor" RENAME TO "TotpFactor";
CREATE UNIQUE INDEX "TotpFactor_userId_key" ON "TotpFactor"("userId");
CREATE INDEX "TotpFactor_orgId_idx" ON "TotpFactor"("orgId");
CREATE TABLE "new_RecoveryCode" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "codeHash" TEXT NOT NULL,
    "usedAt" DATETIME,
    CONSTRAINT "RecoveryCode_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_RecoveryCode" ("codeHash", "id", "orgId", "usedAt", "userId") SELECT "codeHash", "id", "orgId", "usedAt", "userId" FROM "RecoveryCode" c WHERE EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DROP TABLE "RecoveryCode";
ALTER TABLE "new_RecoveryCode" RENAME TO "RecoveryCode";
CREATE INDEX "RecoveryCode_orgId_userId_idx" ON "RecoveryCode"("orgId", "userId");
CREATE TABLE "new_WebAuthnCredential" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "credentialId" TEXT NOT NULL,
    "publicKey" TEXT NOT NULL,
    "counter" INTEGER NOT NULL DEFAULT 0,
    "transports" TEXT NOT NULL DEFAULT '[]',
    "deviceType" TEXT NOT NULL,
    "backedUp" BOOLEAN NOT NULL DEFAULT false,
    "name" TEXT NOT NULL,
    "counterWentBackAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" DATETIME,
    CONSTRAINT "WebAuthnCredential_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_WebAuthnCredential" ("backedUp", "counter", "counterWentBackAt", "createdAt", "credentialId", "deviceType", "id", "lastUsedAt", "name", "orgId", "publicKey", "transports", "userId") SELECT "backedUp", "counter", "counterWentBackAt", "createdAt", "credentialId", "deviceType", "id", "lastUsedAt", "name", "orgId", "publicKey", "transports", "userId" FROM "WebAuthnCredential" c WHERE EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DROP TABLE "WebAuthnCredential";
ALTER TABLE "new_WebAuthnCredential" RENAME TO "WebAuthnCredential";
CREATE INDEX "WebAuthnCredential_orgId_userId_idx" ON "WebAuthnCredential"("orgId", "userId");
CREATE UNIQUE INDEX "WebAuthnCredential_orgId_credentialId_key" ON "WebAuthnCredential"("orgId", "credentialId");
CREATE TABLE "new_RememberedDevice" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "label" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL,
    "revokedAt" DATETIME,
    CONSTRAINT "RememberedDevice_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_RememberedDevice" ("createdAt", "expiresAt", "id", "label", "orgId", "revokedAt", "userId") SELECT "createdAt", "expiresAt", "id", "label", "orgId", "revokedAt", "userId" FROM "RememberedDevice" c WHERE EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DROP TABLE "RememberedDevice";
ALTER TABLE "new_RememberedDevice" RENAME TO "RememberedDevice";
CREATE INDEX "RememberedDevice_orgId_userId_idx" ON "RememberedDevice"("orgId", "userId");
CREATE TABLE "new_BrokerSession" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "idpId" TEXT NOT NULL,
    "nameId" TEXT NOT NULL,
    "nameIdFormat" TEXT,
    "nameQualifier" TEXT,
    "spNameQualifier" TEXT,
    "upstreamSessionIndex" TEXT,
    "upstreamIdToken" TEXT,
    "mfaAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL,
    "endedAt" DATETIME,
    CONSTRAINT "BrokerSession_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_BrokerSession" ("createdAt", "endedAt", "expiresAt", "id", "idpId", "mfaAt", "nameId", "nameIdFormat", "nameQualifier", "orgId", "spNameQualifier", "upstreamIdToken", "upstreamSessionIndex", "userId") SELECT "createdAt", "endedAt", "expiresAt", "id", "idpId", "mfaAt", "nameId", "nameIdFormat", "nameQualifier", "orgId", "spNameQualifier", "upstreamIdToken", "upstreamSessionIndex", "userId" FROM "BrokerSession" c WHERE EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DROP TABLE "BrokerSession";
ALTER TABLE "new_BrokerSession" RENAME TO "BrokerSession";
CREATE INDEX "BrokerSession_orgId_userId_idx" ON "BrokerSession"("orgId", "userId");
CREATE INDEX "BrokerSession_orgId_idpId_nameId_idx" ON "BrokerSession"("orgId", "idpId", "nameId");
CREATE INDEX "BrokerSession_expiresAt_idx" ON "BrokerSession"("expiresAt");
CREATE UNIQUE INDEX "BrokerSession_orgId_id_key" ON "BrokerSession"("orgId", "id");
CREATE TABLE "new_SessionApp" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "sessionId" TEXT NOT NULL,
    "appId" TEXT NOT NULL,
    "nameId" TEXT NOT NULL,
    "sessionIndex" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "SessionApp_orgId_sessionId_fkey" FOREIGN KEY ("orgId", "sessionId") REFERENCES "BrokerSession" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "SessionApp_orgId_appId_fkey" FOREIGN KEY ("orgId", "appId") REFERENCES "Application" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_SessionApp" ("appId", "createdAt", "id", "nameId", "orgId", "sessionId", "sessionIndex") SELECT c."appId", c."createdAt", c."id", c."nameId", s."orgId", c."sessionId", c."sessionIndex" FROM "SessionApp" c JOIN "BrokerSession" s ON s."id" = c."sessionId" WHERE EXISTS (SELECT 1 FROM "Application" p WHERE p."orgId" = s."orgId" AND p."id" = c."appId");
DROP TABLE "SessionApp";
ALTER TABLE "new_SessionApp" RENAME TO "SessionApp";
CREATE INDEX "SessionApp_appId_nameId_idx" ON "SessionApp"("appId", "nameId");
CREATE UNIQUE INDEX "SessionApp_sessionId_appId_key" ON "SessionApp"("sessionId", "appId");
CREATE TABLE "new_AdminSession" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "adminId" TEXT NOT NULL,
    "csrfToken" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL,
    CONSTRAINT "AdminSession_orgId_adminId_fkey" FOREIGN KEY ("orgId", "adminId") REFERENCES "Admin" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_AdminSession" ("adminId", "createdAt", "csrfToken", "expiresAt", "id", "orgId") SELECT "adminId", "createdAt", "csrfToken", "expiresAt", "id", "orgId" FROM "AdminSession" c WHERE EXISTS (SELECT 1 FROM "Admin" p WHERE p."orgId" = c."orgId" AND p."id" = c."adminId");
DROP TABLE "AdminSession";
ALTER TABLE "new_AdminSession" RENAME TO "AdminSession";
CREATE INDEX "AdminSession_expiresAt_idx" ON "AdminSession"("expiresAt");
CREATE TABLE "new_ScimToken" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "idpId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" DATETIME,
    "revokedAt" DATETIME,
    CONSTRAINT "ScimToken_orgId_idpId_fkey" FOREIGN KEY ("orgId", "idpId") REFERENCES "IdentityProvider" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_ScimToken" ("createdAt", "id", "idpId", "lastUsedAt", "name", "orgId", "prefix", "revokedAt", "tokenHash") SELECT "createdAt", "id", "idpId", "lastUsedAt", "name", "orgId", "prefix", "revokedAt", "tokenHash" FROM "ScimToken" c WHERE EXISTS (SELECT 1 FROM "IdentityProvider" p WHERE p."orgId" = c."orgId" AND p."id" = c."idpId");
DROP TABLE "ScimToken";
ALTER TABLE "new_ScimToken" RENAME TO "ScimToken";
CREATE UNIQUE INDEX "ScimToken_tokenHash_key" ON "ScimToken"("tokenHash");
CREATE INDEX "ScimToken_orgId_idpId_idx" ON "ScimToken"("orgId", "idpId");
CREATE TABLE "new_ScimGroup" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "orgId" TEXT NOT NULL,
    "idpId" TEXT NOT NULL,
    "displayName" TEXT NOT NULL,
    "externalId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "ScimGroup_orgId_idpId_fkey" FOREIGN KEY ("orgId", "idpId") REFERENCES "IdentityProvider" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_ScimGroup" ("createdAt", "displayName", "externalId", "id", "idpId", "orgId", "updatedAt") SELECT "createdAt", "displayName", "externalId", "id", "idpId", "orgId", "updatedAt" FROM "ScimGroup" c WHERE EXISTS (SELECT 1 FROM "IdentityProvider" p WHERE p."orgId" = c."orgId" AND p."id" = c."idpId");
DROP TABLE "ScimGroup";
ALTER TABLE "new_ScimGroup" RENAME TO "ScimGroup";
CREATE INDEX "ScimGroup_orgId_idpId_idx" ON "ScimGroup"("orgId", "idpId");
CREATE UNIQUE INDEX "ScimGroup_orgId_idpId_displayName_key" ON "ScimGroup"("orgId", "idpId", "displayName");
CREATE UNIQUE INDEX "ScimGroup_orgId_id_key" ON "ScimGroup"("orgId", "id");
CREATE TABLE "new_ScimGroupMember" (
    "orgId" TEXT NOT NULL,
    "groupId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("groupId", "userId"),
    CONSTRAINT "ScimGroupMember_orgId_groupId_fkey" FOREIGN KEY ("orgId", "groupId") REFERENCES "ScimGroup" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "ScimGroupMember_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User" ("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_ScimGroupMember" ("createdAt", "groupId", "orgId", "userId") SELECT "createdAt", "groupId", "orgId", "userId" FROM "ScimGroupMember" c WHERE EXISTS (SELECT 1 FROM "ScimGroup" p WHERE p."orgId" = c."orgId" AND p."id" = c."groupId") AND EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DROP TABLE "ScimGroupMember";
ALTER TABLE "new_ScimGroupMember" RENAME TO "ScimGroupMember";
CREATE INDEX "ScimGroupMember_userId_idx" ON "ScimGroupMember"("userId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
