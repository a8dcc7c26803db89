-- AlterTable: an IdP may opt in to receiving the login hint as the Subject of our AuthnRequest (default off)
ALTER TABLE "IdentityProvider" ADD COLUMN "sendLoginHint" BOOLEAN NOT NULL DEFAULT false;
