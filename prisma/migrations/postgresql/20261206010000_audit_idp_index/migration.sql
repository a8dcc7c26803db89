-- CreateIndex
CREATE INDEX "AuditEvent_orgId_idpId_at_idx" ON "AuditEvent"("orgId", "idpId", "at");
