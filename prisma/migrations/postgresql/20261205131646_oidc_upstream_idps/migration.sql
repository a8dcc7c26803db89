-- AlterTable
ALTER TABLE "IdentityProvider" ADD COLUMN     "oidcClientAuth" TEXT NOT NULL DEFAULT 'client_secret_basic',
ADD COLUMN     "oidcClientId" TEXT,
ADD COLUMN     "oidcClientSecret" TEXT,
ADD COLUMN     "oidcDiscovery" TEXT,
ADD COLUMN     "oidcScopes" TEXT NOT NULL DEFAULT 'openid email profile',
ADD COLUMN     "oidcUserinfo" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "protocol" TEXT NOT NULL DEFAULT 'saml';
