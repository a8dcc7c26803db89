-- AlterTable
ALTER TABLE "Organization" ADD COLUMN "logo" BYTEA;
ALTER TABLE "Organization" ADD COLUMN "logoContentType" TEXT;

-- AlterTable
ALTER TABLE "SigningKey" ADD COLUMN "promoteAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "IdentityProvider" ADD COLUMN "metadataRefreshAt" TIMESTAMP(3);
ALTER TABLE "IdentityProvider" ADD COLUMN "metadataSigningCertificate" TEXT;
ALTER TABLE "IdentityProvider" ADD COLUMN "metadataError" TEXT;

-- CreateIndex
CREATE INDEX "IdentityProvider_metadataRefreshAt_idx" ON "IdentityProvider"("metadataRefreshAt");

-- CreateIndex
CREATE INDEX "ImportJob_orgId_status_idx" ON "ImportJob"("orgId", "status");
