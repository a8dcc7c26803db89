-- CreateIndex
CREATE INDEX "User_orgId_createdAt_id_idx" ON "User"("orgId", "createdAt", "id");

-- CreateIndex (by hand: Prisma's schema cannot express them): the users list sorted by name and by last sign-in.
-- The expressions are those of src/store/user-list-sql.ts.
CREATE INDEX "User_orgId_name_sort_idx" ON "User"("orgId", lower(COALESCE("lastName", '') || ' ' || COALESCE("firstName", '')), "id");
CREATE INDEX "User_orgId_lastLogin_sort_idx" ON "User"("orgId", COALESCE("lastLoginAt", TIMESTAMP '1970-01-01 00:00:00'), "id");
