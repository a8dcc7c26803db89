-- AlterTable: an OpenID Connect login's ID token, sealed, for RP-initiated logout (id_token_hint)
ALTER TABLE "BrokerSession" ADD COLUMN     "upstreamIdToken" TEXT;
