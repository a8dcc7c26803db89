-- Foreign keys that carry the organisation (issue 18): every reference from one tenant row to another is
-- (orgId, <id>) -> the parent's (orgId, id), so the database refuses a row that points into another organisation.
-- Written by hand from the schema engine's diff: SessionApp gains orgId (backfilled from its BrokerSession), and rows
-- that already point at a parent missing from their own organisation (left behind before these keys existed, e.g.
-- the sessions of a deleted user) are removed first, or the new constraints could not be added.

-- DropForeignKey
ALTER TABLE "UserIdentity" DROP CONSTRAINT "UserIdentity_userId_fkey";

-- DropForeignKey
ALTER TABLE "SessionApp" DROP CONSTRAINT "SessionApp_sessionId_fkey";

-- DropForeignKey
ALTER TABLE "ScimGroupMember" DROP CONSTRAINT "ScimGroupMember_groupId_fkey";

-- DropForeignKey
ALTER TABLE "ScimGroupMember" DROP CONSTRAINT "ScimGroupMember_userId_fkey";

-- AlterTable: SessionApp.orgId, from the session it belongs to
ALTER TABLE "SessionApp" ADD COLUMN "orgId" TEXT;
UPDATE "SessionApp" SET "orgId" = s."orgId" FROM "BrokerSession" s WHERE s."id" = "SessionApp"."sessionId";
DELETE FROM "SessionApp" WHERE "orgId" IS NULL;
ALTER TABLE "SessionApp" ALTER COLUMN "orgId" SET NOT NULL;

-- Rows whose parent is not in their own organisation (orphans of earlier deletions)
DELETE FROM "ScimGroup" c WHERE NOT EXISTS (SELECT 1 FROM "IdentityProvider" p WHERE p."orgId" = c."orgId" AND p."id" = c."idpId");
DELETE FROM "ScimToken" c WHERE NOT EXISTS (SELECT 1 FROM "IdentityProvider" p WHERE p."orgId" = c."orgId" AND p."id" = c."idpId");
DELETE FROM "ScimGroupMember" c WHERE NOT EXISTS (SELECT 1 FROM "ScimGroup" p WHERE p."orgId" = c."orgId" AND p."id" = c."groupId")
  OR NOT EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DELETE FROM "UserIdentity" c WHERE NOT EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId")
  OR NOT EXISTS (SELECT 1 FROM "IdentityProvider" p WHERE p."orgId" = c."orgId" AND p."id" = c."idpId");
DELETE FROM "TotpFactor" c WHERE NOT EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DELETE FROM "RecoveryCode" c WHERE NOT EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DELETE FROM "WebAuthnCredential" c WHERE NOT EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DELETE FROM "RememberedDevice" c WHERE NOT EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DELETE FROM "BrokerSession" c WHERE NOT EXISTS (SELECT 1 FROM "User" p WHERE p."orgId" = c."orgId" AND p."id" = c."userId");
DELETE FROM "SessionApp" c WHERE NOT EXISTS (SELECT 1 FROM "BrokerSession" p WHERE p."orgId" = c."orgId" AND p."id" = c."sessionId")
  OR NOT EXISTS (SELECT 1 FROM "Application" p WHERE p."orgId" = c."orgId" AND p."id" = c."appId");
DELETE FROM "AdminSession" c WHERE NOT EXISTS (SELECT 1 FROM "Admin" p WHERE p."orgId" = c."orgId" AND p."id" = c."adminId");

-- CreateIndex
CREATE UNIQUE INDEX "IdentityProvider_orgId_id_key" ON "IdentityProvider"("orgId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "Application_orgId_id_key" ON "Application"("orgId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "User_orgId_id_key" ON "User"("orgId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "BrokerSession_orgId_id_key" ON "BrokerSession"("orgId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "Admin_orgId_id_key" ON "Admin"("orgId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "ScimGroup_orgId_id_key" ON "ScimGroup"("orgId", "id");

-- AddForeignKey
ALTER TABLE "UserIdentity" ADD CONSTRAINT "UserIdentity_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UserIdentity" ADD CONSTRAINT "UserIdentity_orgId_idpId_fkey" FOREIGN KEY ("orgId", "idpId") REFERENCES "IdentityProvider"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TotpFactor" ADD CONSTRAINT "TotpFactor_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RecoveryCode" ADD CONSTRAINT "RecoveryCode_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebAuthnCredential" ADD CONSTRAINT "WebAuthnCredential_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RememberedDevice" ADD CONSTRAINT "RememberedDevice_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BrokerSession" ADD CONSTRAINT "BrokerSession_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SessionApp" ADD CONSTRAINT "SessionApp_orgId_sessionId_fkey" FOREIGN KEY ("orgId", "sessionId") REFERENCES "BrokerSession"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SessionApp" ADD CONSTRAINT "SessionApp_orgId_appId_fkey" FOREIGN KEY ("orgId", "appId") REFERENCES "Application"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AdminSession" ADD CONSTRAINT "AdminSession_orgId_adminId_fkey" FOREIGN KEY ("orgId", "adminId") REFERENCES "Admin"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScimToken" ADD CONSTRAINT "ScimToken_orgId_idpId_fkey" FOREIGN KEY ("orgId", "idpId") REFERENCES "IdentityProvider"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScimGroup" ADD CONSTRAINT "ScimGroup_orgId_idpId_fkey" FOREIGN KEY ("orgId", "idpId") REFERENCES "IdentityProvider"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScimGroupMember" ADD CONSTRAINT "ScimGroupMember_orgId_groupId_fkey" FOREIGN KEY ("orgId", "groupId") REFERENCES "ScimGroup"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScimGroupMember" ADD CONSTRAINT "ScimGroupMember_orgId_userId_fkey" FOREIGN KEY ("orgId", "userId") REFERENCES "User"("orgId", "id") ON DELETE CASCADE ON UPDATE CASCADE;
