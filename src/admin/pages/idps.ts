// Console section "Identity providers": the organisation's upstream IdPs (Okta, WSO2, ADFS…). Add from metadata
// (URL fetched here, or an uploaded file) or by hand, edit, see what to enter at the IdP (our SP values), enable or
// disable, delete (after a confirmation), and test the connection with a real login. This file only translates
// forms to the domain calls in src/orgs and src/broker and back.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { browserBinding, postForm } from '../../broker/http/render.ts';
import { startTestConnection } from '../../broker/test-connection/start.ts';
import { ATTRIBUTE_PRESETS, MAPPING_PRESETS } from '../../orgs/remote/attribute-presets.ts';
import {
  createIdp,
  deleteIdp,
  findIdp,
  idpDependents,
  setIdpEnabled,
  sourceOf,
  updateIdp,
  type IdpChangeBy,
} from '../../orgs/remote/idp-lifecycle.ts';
import { idpFromMetadata, MAPPABLE_FIELDS, splitCertificates } from '../../orgs/remote/idp-registration-input.ts';
import { refreshIdpMetadataNow } from '../../orgs/remote/metadata-refresh.ts';
import { certificateFingerprint } from '../../saml/certificates.ts';
import type {
  IdentityProvider,
  IdentityProviderInput,
  LinkingMode,
  MappingPreset,
  OidcClientAuth,
} from '../../store/identity-providers.ts';
import { OIDC_PRESETS, oidcIdpInput } from '../../orgs/remote/oidc-registration.ts';
import { checkbox, optionalText, text, upload, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access } from '../roles.ts';
import { provisioningOf } from './idp-provisioning.ts';

type IdParams = { Params: { id: string } };
type Errors = Record<string, string>;

const LABELS: Record<string, string> = {
  name: 'Name',
  entityId: 'Entity ID',
  ssoUrl: 'SSO URL',
  ssoBinding: 'SSO binding',
  sloUrl: 'Single logout URL',
  certificates: 'Signing certificates',
  mappingPreset: 'Attribute mapping preset',
  wantAssertionSigned: 'Signatures',
  defaultAppId: 'App for IdP-initiated logins',
  metadataUrl: 'Metadata URL',
  metadataFile: 'Metadata file',
  issuer: 'Issuer URL',
  oidcClientId: 'Client ID',
  oidcClientSecret: 'Client secret',
  oidcClientAuth: 'Client authentication',
  oidcScopes: 'Scopes',
  metadataSigningCertificate: 'Metadata signing certificate',
  emailDomains: 'Email domains',
  linkingMode: 'Linking',
};
const FIELD_LABELS: Record<string, string> = {
  email: 'Email',
  firstName: 'First name',
  lastName: 'Last name',
  groups: 'Groups',
};
/** Domain messages are phrases ("is required", "must be …"); these start a sentence with the field's label. */
const PHRASE =
  /^(is|must|contains|points|could|answered|returned|redirects|has|describes|does|expired|only|cannot|comes)\b/;
const sentence = (label: string, message: string) =>
  PHRASE.test(message) ? `${label} ${message}` : `${label}: ${message}`;

/** Domain field errors → one message per form field; anything the form has no field for goes to `fallback` (the
 *  metadata field on the import forms), so no error is ever dropped. */
function formErrors(fields: Errors, formFields: string[], fallback: string): Errors {
  const out: Errors = {};
  const add = (key: string, message: string) => {
    out[key] = out[key] ? `${out[key]} ${message}` : message;
  };
  for (const [key, message] of Object.entries(fields)) {
    const mapped = /^attributeMapping\.(\w+)$/.exec(key);
    if (mapped && formFields.includes(`map.${mapped[1]}`))
      add(`map.${mapped[1]}`, sentence(`The attribute for ${FIELD_LABELS[mapped[1]] ?? mapped[1]}`, message) + '.');
    else if (formFields.includes(key)) add(key, sentence(LABELS[key] ?? key, message) + '.');
    else add(fallback, sentence(`The metadata's ${LABELS[key] ?? key}`, message) + '.');
  }
  return out;
}

/** A duplicate entity ID is a conflict in the API (409); on a form it belongs next to the field it came from. */
const saving = <T>(save: () => Promise<T>, duplicateField: string) =>
  withFieldErrors(async () => {
    try {
      return await save();
    } catch (err) {
      if (err instanceof AppError && err.code === 'idp_exists')
        throw new ValidationError({
          [duplicateField]: 'is already registered for another identity provider of this organisation (same entity ID)',
        });
      if (err instanceof AppError && err.code === 'idp_domain_taken')
        throw new ValidationError({ emailDomains: err.message });
      throw err;
    }
  });

const TRUST_FIELDS = ['emailDomains', 'linkingMode'];
const MANUAL_FIELDS = [
  'name',
  'entityId',
  'ssoUrl',
  'ssoBinding',
  'sloUrl',
  'certificates',
  'mappingPreset',
  'wantAssertionSigned',
  'defaultAppId',
  ...TRUST_FIELDS,
  ...MAPPABLE_FIELDS.map((f) => `map.${f}`),
];
const URL_FIELDS = ['name', 'metadataUrl', 'metadataSigningCertificate', 'mappingPreset', ...TRUST_FIELDS];
const FILE_FIELDS = ['name', 'metadataFile', 'mappingPreset', ...TRUST_FIELDS];

const OIDC_FIELDS = [
  'name',
  'issuer',
  'oidcClientId',
  'oidcClientSecret',
  'oidcClientAuth',
  'oidcScopes',
  'mappingPreset',
  ...TRUST_FIELDS,
];
const presetOf = (body: FormBody) => (text(body, 'mappingPreset') || 'okta') as MappingPreset;

/** The trust fields of every form: domains as typed (commas, spaces or lines between them; validation is the
 *  domain's), and the linking mode, left out when the form sent none so that the stored one (or the default) stays. */
function trustFromForm(body: FormBody): Pick<IdentityProviderInput, 'emailDomains' | 'linkingMode'> {
  const linkingMode = text(body, 'linkingMode');
  return {
    emailDomains: text(body, 'emailDomains')
      .split(/[\s,;]+/)
      .filter(Boolean),
    ...(linkingMode && { linkingMode: linkingMode as LinkingMode }),
  };
}

/** The manual/edit form as the domain's input. Every field is on the form, so absent checkboxes mean "off". */
function idpInputFromForm(body: FormBody): IdentityProviderInput {
  return {
    name: text(body, 'name'),
    entityId: text(body, 'entityId'),
    ssoUrl: text(body, 'ssoUrl'),
    ssoBinding: (text(body, 'ssoBinding') || 'redirect') as 'redirect' | 'post',
    sloUrl: optionalText(body, 'sloUrl'),
    certificates: splitCertificates(text(body, 'certificates')),
    signRequests: checkbox(body, 'signRequests'),
    acceptUnsignedLogoutResponse: checkbox(body, 'acceptUnsignedLogoutResponse'),
    sendLoginHint: checkbox(body, 'sendLoginHint'),
    ...trustFromForm(body),
    wantResponseSigned: checkbox(body, 'wantResponseSigned'),
    wantAssertionSigned: checkbox(body, 'wantAssertionSigned'),
    allowIdpInitiated: checkbox(body, 'allowIdpInitiated'),
    defaultAppId: optionalText(body, 'defaultAppId'),
    allowSha1: checkbox(body, 'allowSha1'),
    mappingPreset: presetOf(body),
    attributeMapping: Object.fromEntries(MAPPABLE_FIELDS.map((f) => [f, text(body, `map.${f}`)]).filter(([, v]) => v)),
  };
}

/** The trust fields as the admin typed them, to show again after a refused submission. */
const trustEcho = (body: FormBody) => ({
  emailDomains: text(body, 'emailDomains'),
  linkingMode: text(body, 'linkingMode') || 'verified-domains',
});

/** What the form shows: an IdP's stored values, or what the admin just submitted. */
function formValues(input: IdentityProviderInput) {
  return {
    name: input.name ?? '',
    entityId: input.entityId ?? '',
    ssoUrl: input.ssoUrl ?? '',
    ssoBinding: input.ssoBinding ?? 'redirect',
    sloUrl: input.sloUrl ?? '',
    certificates: (input.certificates ?? []).join('\n'),
    signRequests: input.signRequests ?? true,
    acceptUnsignedLogoutResponse: input.acceptUnsignedLogoutResponse ?? false,
    sendLoginHint: input.sendLoginHint ?? false,
    emailDomains: (input.emailDomains ?? []).join(', '),
    linkingMode: input.linkingMode ?? 'verified-domains',
    wantResponseSigned: input.wantResponseSigned ?? false,
    wantAssertionSigned: input.wantAssertionSigned ?? true,
    allowIdpInitiated: input.allowIdpInitiated ?? false,
    defaultAppId: input.defaultAppId ?? '',
    allowSha1: input.allowSha1 ?? false,
    mappingPreset: input.mappingPreset ?? 'okta',
    map: input.attributeMapping ?? {},
  };
}

const certificateSummary = (pem: string) => {
  try {
    return { fingerprint: certificateFingerprint(pem) };
  } catch {
    return { fingerprint: 'unreadable certificate' };
  }
};

export async function idpPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const changeBy = (request: FastifyRequest): IdpChangeBy => ({
    actor: adminOf(request).session.admin.email,
    at: ctx.clock.now(),
  });
  const common = async (request: FastifyRequest) => ({
    presets: MAPPING_PRESETS,
    presetAttributes: ATTRIBUTE_PRESETS,
    mappable: MAPPABLE_FIELDS.map((f) => ({ field: f, label: FIELD_LABELS[f] })),
    apps: (await adminOf(request).tenant.store.applications.list()).map((a) => ({ id: a.id, name: a.name })),
  });

  type NewPageData = {
    manual?: IdentityProviderInput;
    manualErrors?: Errors;
    byUrl?: Record<string, string>;
    urlErrors?: Errors;
    byFile?: Record<string, string>;
    fileErrors?: Errors;
    byOidc?: Record<string, string | boolean>;
    oidcErrors?: Errors;
    open?: 'url' | 'file' | 'manual' | 'oidc';
  };
  const newPage = async (request: FastifyRequest, reply: FastifyReply, data: NewPageData, status = 200) =>
    adminPage(
      request,
      reply,
      'admin/idps/new',
      'idps',
      {
        title: 'Add identity provider',
        ...(await common(request)),
        sp: adminOf(request).tenant.urls,
        open: data.open ?? 'url',
        form: formValues(data.manual ?? {}),
        errors: data.manualErrors ?? {},
        urlForm: {
          name: '',
          metadataUrl: '',
          metadataSigningCertificate: '',
          mappingPreset: 'okta',
          emailDomains: '',
          linkingMode: 'verified-domains',
          ...data.byUrl,
        },
        urlErrors: data.urlErrors ?? {},
        fileForm: {
          name: '',
          mappingPreset: 'okta',
          emailDomains: '',
          linkingMode: 'verified-domains',
          ...data.byFile,
        },
        fileErrors: data.fileErrors ?? {},
        oidcPresets: OIDC_PRESETS,
        oidcForm: {
          name: '',
          issuer: '',
          clientId: '',
          clientAuth: 'client_secret_basic',
          scopes: 'openid email profile',
          mappingPreset: 'oidc-entra',
          userinfo: false,
          emailDomains: '',
          linkingMode: 'verified-domains',
          ...data.byOidc,
        },
        oidcErrors: data.oidcErrors ?? {},
      },
      status,
    );

  const idpPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    idp: IdentityProvider,
    edit?: { input: IdentityProviderInput; errors: Errors },
  ) => {
    const { tenant } = adminOf(request);
    return adminPage(
      request,
      reply,
      'admin/idps/show',
      'idps',
      {
        title: idp.name,
        ...(await common(request)),
        sp: tenant.urls,
        source: sourceOf(idp),
        idp: {
          id: idp.id,
          name: idp.name,
          entityId: idp.entityId,
          enabled: idp.enabled,
          metadataUrl: idp.metadataUrl,
          metadataFetchedAt: idp.metadataFetchedAt?.toISOString() ?? null,
          metadataValidUntil: idp.metadataValidUntil?.toISOString() ?? null,
          metadataError: idp.metadataError,
          metadataSigned: !!idp.metadataSigningCertificate,
          certificates: idp.certificates.map(certificateSummary),
          emailDomains: idp.emailDomains,
          linkingMode: idp.linkingMode,
          signRequests: idp.signRequests,
          protocol: idp.protocol,
          oidc:
            idp.protocol === 'oidc'
              ? {
                  clientId: idp.oidcClientId,
                  clientAuth: idp.oidcClientAuth,
                  scopes: idp.oidcScopes,
                  userinfo: idp.oidcUserinfo,
                  preset: idp.mappingPreset,
                  endSession: !!idp.oidcDiscovery?.includes('"end_session_endpoint"'),
                }
              : null,
        },
        form: formValues(edit?.input ?? idp),
        errors: edit?.errors ?? {},
        provisioning: await provisioningOf(tenant.store, tenant.urls.base, idp.id),
      },
      edit ? 400 : 200,
    );
  };

  app.get('/admin/idps', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const idps = await tenant.store.identityProviders.list();
    return adminPage(request, reply, 'admin/idps/list', 'idps', {
      title: 'Identity providers',
      idps: idps.map((i) => ({
        id: i.id,
        name: i.name,
        entityId: i.entityId,
        enabled: i.enabled,
        source: sourceOf(i),
        emailDomains: i.emailDomains,
        linkingMode: i.linkingMode,
        metadataFetchedAt: i.metadataFetchedAt?.toISOString() ?? null,
        metadataError: i.metadataError,
      })),
    });
  });

  app.get('/admin/idps/new', access('admin'), async (request, reply) => newPage(request, reply, {}));

  // 1. From the IdP's metadata URL, fetched here (timeout, size limit, no private addresses unless allowed).
  app.post('/admin/idps/new/url', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const body = request.body as FormBody;
    const trust = trustFromForm(body);
    const byUrl = {
      name: text(body, 'name'),
      metadataUrl: text(body, 'metadataUrl'),
      metadataSigningCertificate: text(body, 'metadataSigningCertificate'),
      mappingPreset: presetOf(body),
      ...trustEcho(body),
    };
    const fail = (errors: Errors) =>
      newPage(request, reply, { byUrl, urlErrors: formErrors(errors, URL_FIELDS, 'metadataUrl'), open: 'url' }, 400);
    if (!byUrl.metadataUrl) return fail({ metadataUrl: 'is required', ...(!byUrl.name && { name: 'is required' }) });
    const fromMetadata = await withFieldErrors(() =>
      idpFromMetadata(
        { kind: 'url', url: byUrl.metadataUrl, signingCertificate: byUrl.metadataSigningCertificate },
        {
          allowPrivate: ctx.config.metadataAllowPrivate,
          timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
          now: ctx.clock.now(),
          field: 'metadataUrl',
        },
      ),
    );
    if (!fromMetadata.ok) return fail({ ...fromMetadata.errors, ...(!byUrl.name && { name: 'is required' }) });
    const saved = await saving(
      () =>
        createIdp(
          tenant.store,
          { ...fromMetadata.value, name: byUrl.name, mappingPreset: byUrl.mappingPreset, ...trust },
          changeBy(request),
        ),
      'metadataUrl',
    );
    if (!saved.ok) return fail(saved.errors);
    return reply.redirect(`/admin/idps/${saved.value.id}?done=created`, 303);
  });

  // 2. From an uploaded metadata file (multipart).
  app.post('/admin/idps/new/file', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const body = request.body as FormBody;
    const trust = trustFromForm(body);
    const byFile = { name: text(body, 'name'), mappingPreset: presetOf(body), ...trustEcho(body) };
    const file = upload(body, 'metadataFile');
    const fail = (errors: Errors) =>
      newPage(
        request,
        reply,
        { byFile, fileErrors: formErrors(errors, FILE_FIELDS, 'metadataFile'), open: 'file' },
        400,
      );
    if (!file)
      return fail({
        metadataFile: 'is required: choose the metadata XML file',
        ...(!byFile.name && { name: 'is required' }),
      });
    const fromMetadata = await withFieldErrors(() =>
      idpFromMetadata(
        { kind: 'document', xml: file.toString('utf8') },
        {
          allowPrivate: ctx.config.metadataAllowPrivate,
          timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
          now: ctx.clock.now(),
          field: 'metadataFile',
        },
      ),
    );
    if (!fromMetadata.ok) return fail({ ...fromMetadata.errors, ...(!byFile.name && { name: 'is required' }) });
    const saved = await saving(
      () =>
        createIdp(
          tenant.store,
          { ...fromMetadata.value, name: byFile.name, mappingPreset: byFile.mappingPreset, ...trust },
          changeBy(request),
        ),
      'metadataFile',
    );
    if (!saved.ok) return fail(saved.errors);
    return reply.redirect(`/admin/idps/${saved.value.id}?done=created`, 303);
  });

  // 4. OpenID Connect: from the issuer URL (discovery document fetched here under the metadata rules), the client ID
  // and secret the admin created at the IdP for our redirect URI. The secret is never shown back, even on an error.
  app.post('/admin/idps/new/oidc', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const body = request.body as FormBody;
    const trust = trustFromForm(body);
    const byOidc = {
      name: text(body, 'name'),
      issuer: text(body, 'issuer'),
      clientId: text(body, 'clientId'),
      clientAuth: text(body, 'clientAuth') || 'client_secret_basic',
      scopes: text(body, 'scopes') || 'openid email profile',
      mappingPreset: text(body, 'mappingPreset') || 'custom',
      userinfo: checkbox(body, 'userinfo'),
      ...trustEcho(body),
    };
    const fail = (errors: Errors) =>
      newPage(request, reply, { byOidc, oidcErrors: formErrors(errors, OIDC_FIELDS, 'issuer'), open: 'oidc' }, 400);
    const required = {
      ...(!byOidc.name && { name: 'is required' }),
      ...(!byOidc.issuer && { issuer: 'is required' }),
      ...(!byOidc.clientId && { oidcClientId: 'is required' }),
      ...(!text(body, 'clientSecret') &&
        byOidc.clientAuth !== 'private_key_jwt' && { oidcClientSecret: 'is required (or choose private_key_jwt)' }),
    };
    if (Object.keys(required).length) return fail(required);
    const input = await withFieldErrors(() =>
      oidcIdpInput(
        {
          issuer: byOidc.issuer,
          clientId: byOidc.clientId,
          clientSecret: text(body, 'clientSecret') || undefined,
          clientAuth: byOidc.clientAuth as OidcClientAuth,
          scopes: byOidc.scopes,
          preset: byOidc.mappingPreset as MappingPreset,
          userinfo: byOidc.userinfo,
        },
        {
          orgId: tenant.org.id,
          box: ctx.box,
          now: ctx.clock.now(),
          allowPrivate: ctx.config.metadataAllowPrivate,
          timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
          refreshSeconds: ctx.config.metadataRefreshIntervalSeconds,
        },
      ),
    );
    if (!input.ok) return fail(input.errors);
    const saved = await saving(
      () => createIdp(tenant.store, { ...input.value, name: byOidc.name, ...trust }, changeBy(request)),
      'issuer',
    );
    if (!saved.ok) return fail(saved.errors);
    return reply.redirect(`/admin/idps/${saved.value.id}?done=created`, 303);
  });

  // 3. By hand: every field of the registration on one form.
  app.post('/admin/idps/new/manual', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const input = idpInputFromForm(request.body as FormBody);
    const saved = await saving(() => createIdp(tenant.store, input, changeBy(request)), 'entityId');
    if (!saved.ok)
      return newPage(
        request,
        reply,
        { manual: input, manualErrors: formErrors(saved.errors, MANUAL_FIELDS, 'name'), open: 'manual' },
        400,
      );
    return reply.redirect(`/admin/idps/${saved.value.id}?done=created`, 303);
  });

  app.get<IdParams>('/admin/idps/:id', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    return idpPage(request, reply, await findIdp(tenant.store, request.params.id));
  });

  app.post<IdParams>('/admin/idps/:id', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const idp = await findIdp(tenant.store, request.params.id);
    // The settings form is SAML's; an OpenID Connect IdP is changed through the API or the CLI for now.
    if (idp.protocol === 'oidc')
      throw new AppError(
        'idp_protocol_mismatch',
        'This identity provider uses OpenID Connect: change it through the API (PATCH /api/idps/:id) or the CLI.',
      );
    const input = idpInputFromForm(request.body as FormBody);
    const saved = await saving(() => updateIdp(tenant.store, idp.id, input, changeBy(request)), 'entityId');
    if (!saved.ok)
      return idpPage(request, reply, idp, { input, errors: formErrors(saved.errors, MANUAL_FIELDS, 'name') });
    return reply.redirect(`/admin/idps/${idp.id}?done=saved`, 303);
  });

  app.post<IdParams>('/admin/idps/:id/enabled', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const enabled = text(request.body as FormBody, 'enabled') === 'true';
    const idp = await setIdpEnabled(tenant.store, request.params.id, enabled, changeBy(request));
    return reply.redirect(`/admin/idps/${idp.id}?done=${enabled ? 'enabled' : 'disabled'}`, 303);
  });

  // Deleting asks first and says what it touches: apps using it as primary, users linked through it.
  app.get<IdParams>('/admin/idps/:id/delete', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const idp = await findIdp(tenant.store, request.params.id);
    return adminPage(request, reply, 'admin/idps/delete', 'idps', {
      title: 'Delete identity provider',
      idp: { id: idp.id, name: idp.name, entityId: idp.entityId },
      ...(await idpDependents(tenant.store, idp.id)),
    });
  });

  app.post<IdParams>('/admin/idps/:id/delete', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    await findIdp(tenant.store, request.params.id);
    await deleteIdp(ctx.store, tenant.org.id, request.params.id, changeBy(request));
    return reply.redirect('/admin/idps?done=deleted', 303);
  });

  // "Refresh now" for an IdP added by metadata URL, whatever the schedule (the scheduled refresh's own code path).
  app.post<IdParams>('/admin/idps/:id/refresh', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const idp = await findIdp(tenant.store, request.params.id);
    const outcome = await refreshIdpMetadataNow(ctx, tenant.store, idp.id, session.admin.email);
    return reply.redirect(
      `/admin/idps/${idp.id}?done=${outcome.status === 'updated' ? 'metadata-refreshed' : 'metadata-refresh-failed'}`,
      303,
    );
  });

  // Test connection: a real login against the IdP, opened in a new tab by the form; the ACS shows the outcome.
  app.post<IdParams>('/admin/idps/:id/test', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const idp = await findIdp(tenant.store, request.params.id);
    const dispatch = await startTestConnection(ctx, tenant, idp, {
      adminSessionId: session.sessionId,
      actor: session.admin.email,
      browser: browserBinding(request, reply, ctx.config),
    });
    return dispatch.binding === 'redirect'
      ? reply.redirect(dispatch.url, 302)
      : postForm(request, reply, dispatch.url, dispatch.fields, idp.name);
  });
}
