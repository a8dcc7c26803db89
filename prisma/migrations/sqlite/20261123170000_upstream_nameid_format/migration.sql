-- AlterTable: the upstream NameID's Format and qualifiers, for logout requests to the IdP
ALTER TABLE "BrokerSession" ADD COLUMN "nameIdFormat" TEXT;
ALTER TABLE "BrokerSession" ADD COLUMN "nameQualifier" TEXT;
ALTER TABLE "BrokerSession" ADD COLUMN "spNameQualifier" TEXT;
