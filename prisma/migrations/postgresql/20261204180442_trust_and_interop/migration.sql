-- AlterTable
ALTER TABLE "IdentityProvider" ADD COLUMN     "acceptUnsignedLogoutResponse" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "emailDomains" TEXT NOT NULL DEFAULT '[]',
ADD COLUMN     "linkingMode" TEXT NOT NULL DEFAULT 'verified-domains',
ALTER COLUMN "signRequests" SET DEFAULT true;

-- AlterTable
ALTER TABLE "Application" ADD COLUMN     "allowSha1" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "UserIdentity" ADD COLUMN     "source" TEXT NOT NULL DEFAULT 'login';

-- AlterTable
ALTER TABLE "TotpFactor" ADD COLUMN     "enrolFlowId" TEXT,
ADD COLUMN     "lastUsedStep" INTEGER;

-- Upstream AuthnRequests are signed by default now, and SP metadata says so: existing IdPs sign too (a per-IdP switch turns it off)
UPDATE "IdentityProvider" SET "signRequests" = true;
