// Console section "Apps": the organisation's downstream apps (SAML SPs such as Jira's SSO app). Add from SP
// metadata (URL or file) or by hand, edit, see what to paste into the app (Metadata panel), enable/disable, delete.
// This file only translates forms to the domain calls in src/orgs and back.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { appConnectionDetails } from '../../orgs/remote/app-connection.ts';
import {
  createApp,
  deleteApp,
  findApp,
  setAppEnabled,
  signedRequestsReason,
  updateApp,
  type ChangeBy,
} from '../../orgs/remote/app-lifecycle.ts';
import { buildIdpMetadata } from '../../orgs/hosted/metadata-routes.ts';
import { RELEASABLE_ATTRIBUTES } from '../../orgs/remote/registrations.ts';
import { spMetadataInput } from '../../orgs/remote/sp-metadata-input.ts';
import { appPolicy } from '../../policy/app-policy.ts';
import type { Application, ApplicationInput, NameIdFormat } from '../../store/applications.ts';
import { checkbox, lines, optionalText, text, upload, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access } from '../roles.ts';

type IdParams = { Params: { id: string } };

const NAMEID_CHOICES: { value: NameIdFormat; label: string }[] = [
  { value: 'emailAddress', label: 'Email address (urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress)' },
  { value: 'persistent', label: 'Persistent (a stable pseudonymous id per user and app)' },
  { value: 'unspecified', label: "Unspecified (the user's email)" },
];

const LABELS: Record<string, string> = {
  name: 'Name',
  entityId: 'Entity ID',
  acsUrls: 'ACS URLs',
  sloUrl: 'Single logout URL',
  certificate: 'Certificate',
  nameIdFormat: 'NameID format',
  attributeRelease: 'Released attributes',
  defaultRelayState: 'Default RelayState',
  primaryIdpId: 'Primary identity provider',
  metadataUrl: 'Metadata URL',
  metadataFile: 'Metadata file',
  signResponse: 'Sign Response',
  signAssertion: 'Sign Assertion',
  wantAuthnRequestsSigned: 'Want AuthnRequests signed',
  encryptAssertion: 'Encrypt assertion',
  allowSha1: 'Accept RSA-SHA1',
};
/** Messages from the domain are phrases ("is required", "must be …"); these start a sentence with the field's label. */
const PHRASE = /^(is|must|contains|points|could|answered|returned|redirects|has|describes|does|at least)\b/;
const sentence = (label: string, message: string) =>
  PHRASE.test(message) ? `${label} ${message}` : `${label}: ${message}`;

/** Domain field errors → one message per form field. ACS lines report as `acsUrls.<n>`; anything the form has no
 *  field for goes to `fallback` (the metadata source on the import form), so no error is ever dropped. */
function formErrors(fields: Record<string, string>, formFields: string[], fallback: string): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (key: string, message: string) => {
    out[key] = out[key] ? `${out[key]} ${message}` : message;
  };
  for (const [key, message] of Object.entries(fields)) {
    const line = /^acsUrls\.(\d+)$/.exec(key);
    if (line && formFields.includes('acsUrls'))
      add('acsUrls', sentence(`ACS URL on line ${Number(line[1]) + 1}`, message) + '.');
    else if (formFields.includes(key)) add(key, sentence(LABELS[key] ?? key, message) + '.');
    else add(fallback, sentence(`The metadata's ${LABELS[key] ?? key}`, message) + '.');
  }
  return out;
}

/** A duplicate entity ID is a conflict in the API (409); on a form it belongs next to the entity ID. */
async function saving<T>(save: () => Promise<T>) {
  return withFieldErrors(async () => {
    try {
      return await save();
    } catch (err) {
      if (err instanceof AppError && err.code === 'app_exists')
        throw new ValidationError({ entityId: 'is already registered for another app of this organisation' });
      throw err;
    }
  });
}

const MANUAL_FIELDS = [
  'name',
  'entityId',
  'acsUrls',
  'sloUrl',
  'certificate',
  'nameIdFormat',
  'attributeRelease',
  'defaultRelayState',
  'primaryIdpId',
  'signResponse',
  'signAssertion',
  'wantAuthnRequestsSigned',
  'encryptAssertion',
  'allowSha1',
];
const IMPORT_FIELDS = ['name', 'primaryIdpId', 'metadataUrl', 'metadataFile'];

/** The manual/edit form as the domain's input. Every field is on the form, so absent checkboxes mean "off". */
function appInputFromForm(body: FormBody): ApplicationInput {
  return {
    name: text(body, 'name'),
    entityId: text(body, 'entityId'),
    acsUrls: lines(body, 'acsUrls'),
    sloUrl: optionalText(body, 'sloUrl'),
    certificate: optionalText(body, 'certificate'),
    signResponse: checkbox(body, 'signResponse'),
    signAssertion: checkbox(body, 'signAssertion'),
    wantAuthnRequestsSigned: checkbox(body, 'wantAuthnRequestsSigned'),
    encryptAssertion: checkbox(body, 'encryptAssertion'),
    allowSha1: checkbox(body, 'allowSha1'),
    nameIdFormat: (text(body, 'nameIdFormat') || 'emailAddress') as NameIdFormat,
    attributeRelease: RELEASABLE_ATTRIBUTES.filter((a) => checkbox(body, `release.${a}`)),
    defaultRelayState: optionalText(body, 'defaultRelayState'),
    primaryIdpId: optionalText(body, 'primaryIdpId'),
  };
}

/** What the form shows: an app's stored values, or what the admin just submitted. */
function formValues(input: ApplicationInput) {
  return {
    name: input.name ?? '',
    entityId: input.entityId ?? '',
    acsUrls: (input.acsUrls ?? []).join('\n'),
    sloUrl: input.sloUrl ?? '',
    certificate: input.certificate ?? '',
    signResponse: input.signResponse ?? true,
    signAssertion: input.signAssertion ?? false,
    wantAuthnRequestsSigned: input.wantAuthnRequestsSigned ?? false,
    encryptAssertion: input.encryptAssertion ?? false,
    allowSha1: input.allowSha1 ?? false,
    nameIdFormat: input.nameIdFormat ?? 'emailAddress',
    release: input.attributeRelease ?? ['email', 'firstName', 'lastName', 'groups'],
    defaultRelayState: input.defaultRelayState ?? '',
    primaryIdpId: input.primaryIdpId ?? '',
  };
}

export async function appPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const changeBy = (request: FastifyRequest): ChangeBy => ({
    actor: adminOf(request).session.admin.email,
    at: ctx.clock.now(),
  });
  const idpChoices = async (request: FastifyRequest) =>
    (await adminOf(request).tenant.store.identityProviders.list()).map((i) => ({
      id: i.id,
      name: i.name,
      enabled: i.enabled,
    }));
  const common = async (request: FastifyRequest) => ({
    idps: await idpChoices(request),
    nameIdChoices: NAMEID_CHOICES,
    attributes: RELEASABLE_ATTRIBUTES,
  });

  const newPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    data: {
      manual?: ApplicationInput;
      manualErrors?: Record<string, string>;
      imported?: Record<string, string>;
      importErrors?: Record<string, string>;
    },
    status = 200,
  ) =>
    adminPage(
      request,
      reply,
      'admin/apps/new',
      'apps',
      {
        title: 'Add app',
        ...(await common(request)),
        form: formValues(data.manual ?? {}),
        errors: data.manualErrors ?? {},
        importForm: { name: '', metadataUrl: '', primaryIdpId: '', ...data.imported },
        importErrors: data.importErrors ?? {},
      },
      status,
    );

  const appPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    target: Application,
    edit?: { input: ApplicationInput; errors: Record<string, string> },
  ) => {
    const { tenant } = adminOf(request);
    return adminPage(
      request,
      reply,
      'admin/apps/show',
      'apps',
      {
        title: target.name,
        app: target,
        ...(await common(request)),
        form: formValues(edit?.input ?? target),
        errors: edit?.errors ?? {},
        connection: await appConnectionDetails(tenant, target),
        twoFactor: appPolicy(target).twoFactor,
        signedRequests: await signedRequestsReason(tenant.store, target),
      },
      edit ? 400 : 200,
    );
  };

  app.get('/admin/apps', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const [apps, idps] = await Promise.all([tenant.store.applications.list(), tenant.store.identityProviders.list()]);
    const idpName = new Map(idps.map((i) => [i.id, i.name]));
    return adminPage(request, reply, 'admin/apps/list', 'apps', {
      title: 'Apps',
      apps: apps.map((a) => ({
        id: a.id,
        name: a.name,
        entityId: a.entityId,
        enabled: a.enabled,
        twoFactor: appPolicy(a).twoFactor,
        primaryIdp: a.primaryIdpId ? (idpName.get(a.primaryIdpId) ?? 'Missing identity provider') : null,
      })),
    });
  });

  app.get('/admin/apps/new', access('admin'), async (request, reply) => newPage(request, reply, {}));

  // By hand: every field of the registration on one form.
  app.post('/admin/apps/new', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const input = appInputFromForm(request.body as FormBody);
    const saved = await saving(() => createApp(tenant.store, input, changeBy(request)));
    if (!saved.ok)
      return newPage(
        request,
        reply,
        { manual: input, manualErrors: formErrors(saved.errors, MANUAL_FIELDS, 'name') },
        400,
      );
    return reply.redirect(`/admin/apps/${saved.value.id}?done=created`, 303);
  });

  // From the app's SP metadata: a URL to fetch or an uploaded file (multipart). The rest can be edited afterwards.
  app.post('/admin/apps/new/metadata', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const body = request.body as FormBody;
    const imported = {
      name: text(body, 'name'),
      metadataUrl: text(body, 'metadataUrl'),
      primaryIdpId: text(body, 'primaryIdpId'),
    };
    const file = upload(body, 'metadataFile');
    const fail = (errors: Record<string, string>) =>
      newPage(
        request,
        reply,
        { imported, importErrors: formErrors(errors, IMPORT_FIELDS, file ? 'metadataFile' : 'metadataUrl') },
        400,
      );
    if (!file && !imported.metadataUrl)
      return fail({ metadataUrl: 'or a metadata file is required', ...(!imported.name && { name: 'is required' }) });
    if (file && imported.metadataUrl)
      return fail({ metadataUrl: 'must be left empty when a file is uploaded (use one or the other)' });
    const source = file ? { xml: file.toString('utf8') } : { url: imported.metadataUrl };
    const fromMetadata = await withFieldErrors(() =>
      spMetadataInput(source, {
        allowPrivate: ctx.config.metadataAllowPrivate,
        field: file ? 'metadataFile' : 'metadataUrl',
      }),
    );
    if (!fromMetadata.ok) return fail({ ...fromMetadata.errors, ...(!imported.name && { name: 'is required' }) });
    const saved = await saving(() =>
      createApp(
        tenant.store,
        { ...fromMetadata.value, name: imported.name, primaryIdpId: imported.primaryIdpId || null },
        changeBy(request),
        { fromMetadata: fromMetadata.value },
      ),
    );
    if (!saved.ok) return fail(saved.errors);
    return reply.redirect(`/admin/apps/${saved.value.id}?done=created`, 303);
  });

  app.get<IdParams>('/admin/apps/:id', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    return appPage(request, reply, await findApp(tenant.store, request.params.id));
  });

  app.post<IdParams>('/admin/apps/:id', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const target = await findApp(tenant.store, request.params.id);
    const input = appInputFromForm(request.body as FormBody);
    const saved = await saving(() => updateApp(tenant.store, target.id, input, changeBy(request)));
    if (!saved.ok)
      return appPage(request, reply, target, { input, errors: formErrors(saved.errors, MANUAL_FIELDS, 'name') });
    return reply.redirect(`/admin/apps/${target.id}?done=saved`, 303);
  });

  // The organisation's IdP metadata as a file for the app's "upload IdP metadata" option.
  app.get<IdParams>('/admin/apps/:id/metadata.xml', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    await findApp(tenant.store, request.params.id);
    return reply
      .header('content-type', 'application/samlmetadata+xml; charset=utf-8')
      .header('content-disposition', `attachment; filename="${tenant.org.slug}-idp-metadata.xml"`)
      .send(await buildIdpMetadata(tenant));
  });

  app.post<IdParams>('/admin/apps/:id/enabled', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const enabled = text(request.body as FormBody, 'enabled') === 'true';
    const target = await setAppEnabled(tenant.store, request.params.id, enabled, changeBy(request));
    return reply.redirect(`/admin/apps/${target.id}?done=${enabled ? 'enabled' : 'disabled'}`, 303);
  });

  // Deleting asks first: the app's users lose this sign-in at once.
  app.get<IdParams>('/admin/apps/:id/delete', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    return adminPage(request, reply, 'admin/apps/delete', 'apps', {
      title: 'Delete app',
      app: await findApp(tenant.store, request.params.id),
    });
  });

  app.post<IdParams>('/admin/apps/:id/delete', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    await deleteApp(tenant.store, request.params.id, changeBy(request));
    return reply.redirect('/admin/apps?done=deleted', 303);
  });
}
