-- CreateIndex
CREATE INDEX "UserIdentity_orgId_idpId_externalId_idx" ON "UserIdentity"("orgId", "idpId", "externalId");

-- CreateIndex (by hand: Prisma's schema cannot express it): SCIM's `userName eq "…"` compares without regard to case
CREATE INDEX "UserIdentity_orgId_idpId_lower_nameId_idx" ON "UserIdentity"("orgId", "idpId", lower("nameId"));
