// Every admin console page behind the sign-in: one encapsulated scope with the admin guard (session of this
// organisation, CSRF on POST, the route's role rule) and multipart forms (metadata files, logos, user imports). Each section is its own file.
import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import type { AppContext } from '../../context.ts';
import { MAX_IMPORT_FILE_BYTES } from '../../users/import/import-service.ts';
import { adminGuard } from './guard.ts';
import { homePages } from './home.ts';
import { idpPages } from './idps.ts';
import { idpProvisioningPages } from './idp-provisioning.ts';
import { appPages } from './apps.ts';
import { policyPages } from './policies.ts';
import { userPages } from './users.ts';
import { auditPages } from './audit.ts';
import { organizationPages } from './organization.ts';
import { tokenPages } from './tokens.ts';
import { securityPages } from './security.ts';
import { adminsPages } from './admins.ts';

export async function adminPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { fileSize: MAX_IMPORT_FILE_BYTES, files: 1, fields: 200 },
  });
  app.addHook('preHandler', adminGuard(ctx));
  await app.register(homePages, { ctx });
  await app.register(idpPages, { ctx });
  await app.register(idpProvisioningPages, { ctx });
  await app.register(appPages, { ctx });
  await app.register(policyPages, { ctx });
  await app.register(userPages, { ctx });
  await app.register(auditPages, { ctx });
  await app.register(organizationPages, { ctx });
  await app.register(tokenPages, { ctx });
  await app.register(adminsPages, { ctx });
  await app.register(securityPages, { ctx });
}
