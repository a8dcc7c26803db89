-- AlterTable
ALTER TABLE "Organization" ADD COLUMN     "webauthnCounterPolicy" TEXT NOT NULL DEFAULT 'refuse';
