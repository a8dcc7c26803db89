-- AlterTable
ALTER TABLE "Organization" ADD COLUMN "logo" BLOB;
ALTER TABLE "Organization" ADD COLUMN "logoContentType" TEXT;

-- AlterTable
ALTER TABLE "SigningKey" ADD COLUMN "promoteAt" DATETIME;

-- AlterTable
ALTER TABLE "IdentityProvider" ADD COLUMN "metadataRefreshAt" DATETIME;
ALTER TABLE "IdentityProvider" ADD COLUMN "metadataSigningCertificate" TEXT;
ALTER TABLE "IdentityProvider" ADD COLUMN "metadataError" TEXT;

-- CreateIndex
CREATE INDEX "IdentityProvider_metadataRefreshAt_idx" ON "IdentityProvider"("metadataRefreshAt");

-- CreateIndex
CREATE INDEX "ImportJob_orgId_status_idx" ON "ImportJob"("orgId", "status");
