-- CreateIndex
CREATE INDEX "BrokerSession_orgId_idpId_nameId_idx" ON "BrokerSession"("orgId", "idpId", "nameId");

-- CreateIndex
CREATE INDEX "SessionApp_appId_nameId_idx" ON "SessionApp"("appId", "nameId");
