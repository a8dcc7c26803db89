// Proof that we sign without parsing correctly (signature/sign.ts): for every kind of message we sign, with hostile
// values in every field, xml-crypto's own canonicalisation of the parsed signed element equals the text we wrote
// (so the digest, SHA-256 of our text, is the digest of the canonical form), xml-crypto's SignedXml.checkSignature
// accepts the document, our verifier accepts it, and the values read back are the values we were given.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { ExclusiveCanonicalization, SignedXml } from 'xml-crypto';
import { encodeOutgoing } from '../../src/saml/bindings.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { buildErrorResponse, buildLoginResponse, type DownstreamApp } from '../../src/saml/downstream/response.ts';
import { logoutRequestXml, logoutResponseXml } from '../../src/saml/logout.ts';
import { buildUpstreamAuthnRequest } from '../../src/saml/upstream/authn-request.ts';
import type { UpstreamIdp } from '../../src/saml/upstream/types.ts';
import { c14nAttr, c14nText } from '../../src/saml/xml.ts';
import { verifyEnvelopedSignature } from '../../src/saml/signature/verify.ts';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const EXC = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const cred = generateSigningCredential('xml-signature-signing');
const appCred = generateSigningCredential('xml-signature-app');
// Every character that needs escaping somewhere, both line ends, a tab, non-ASCII (two and four bytes in UTF-8), the
// end of a CDATA section, and a control character XML cannot carry (it becomes U+FFFD).
const nasty = 'a<b>&"c"]]>\' \r\n\t x\r y\n z é 𝄞 \u0001 end';
const carried = nasty.replace('\u0001', '\uFFFD');
const idp = {
  entityId: `https://pp.broker.test/idp?a=1&b="${nasty}"`,
  signingKeyPem: cred.privateKeyPem,
  certificatePem: cred.certificatePem,
};
const app: DownstreamApp = {
  entityId: `https://jira.example/${nasty}`,
  acsUrl: `https://jira.example/acs?x=1&y="${nasty}"`,
  signResponse: true,
  signAssertion: true,
  encryptAssertion: false,
  nameIdFormat: 'emailAddress',
};
const parse = (xml: string) => new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;
const dsChild = (el: Element, name: string) =>
  Array.from(el.childNodes as unknown as Element[]).find(
    (n) => n.nodeType === 1 && n.namespaceURI === DS && n.localName === name,
  );

/**
 * For a signed element of a document: xml-crypto's exclusive C14N of it, without its own Signature and with the
 * PrefixList its Transform names, must equal our text of it (the document's text of the element without that
 * Signature), and SHA-256 of that text must be the DigestValue. xml-crypto must then accept the signature.
 */
function proveSigned(
  t: Test,
  xml: string,
  el: Element,
  what: string,
  written: 'canonical' | 'as the template wrote it' = 'canonical',
) {
  const signature = dsChild(el, 'Signature')!;
  t.ok(signature, `${what}: signed`);
  const transform = signature.getElementsByTagNameNS(DS, 'Transform')[1] as Element;
  const inclusive = transform.getElementsByTagNameNS(EXC, 'InclusiveNamespaces')[0] as Element | undefined;
  const prefixes = inclusive?.getAttribute('PrefixList')?.split(' ') ?? [];
  const copy = el.cloneNode(true) as Element;
  copy.removeChild(dsChild(copy, 'Signature')!);
  const canonical = new ExclusiveCanonicalization().process(copy as never, {
    inclusiveNamespacesPrefixList: prefixes,
  }) as string;

  // Our text of the element: from its start tag to its end tag in the document, without its own Signature (the
  // first one after its start: the element's Signature follows its Issuer, before any nested element's).
  const start = xml.indexOf(`<${el.tagName}${el === el.ownerDocument.documentElement ? '' : ' '}`);
  const endTag = `</${el.tagName}>`;
  const ours = xml
    .slice(start, xml.indexOf(endTag, start) + endTag.length)
    .replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '');
  const digest = (signature.getElementsByTagNameNS(DS, 'DigestValue')[0] as Element).textContent;
  if (written === 'canonical') {
    t.equal(ours, canonical, `${what}: our text is xml-crypto's canonical form`);
    t.equal(createHash('sha256').update(ours).digest('base64'), digest, `${what}: the digest is SHA-256 of our text`);
  } else {
    // Sent as the template wrote it: what we digested (signXml's canonical text) is xml-crypto's canonical form.
    t.equal(
      createHash('sha256').update(canonical).digest('base64'),
      digest,
      `${what}: the digest is that of xml-crypto's canonical form`,
    );
  }

  const sig = new SignedXml({ publicCert: cred.certificatePem, getCertFromKeyInfo: () => null });
  sig.loadSignature(signature);
  t.ok(sig.checkSignature(xml), `${what}: xml-crypto's checkSignature accepts it`);
  t.equal(
    verifyEnvelopedSignature(el, signature, { certificates: [cred.certificatePem], allowSha1: false, what }),
    el,
    `${what}: our verifier accepts it`,
  );
}

t.test('C14N escaping, and characters XML cannot carry', async (t) => {
  t.equal(c14nText('a&b<c>d\re"f\'g\th\n]]>'), 'a&amp;b&lt;c&gt;d&#xD;e"f\'g\th\n]]&gt;');
  t.equal(c14nAttr('a&b<c>d\re"f\'g\th\n'), "a&amp;b&lt;c>d&#xD;e&quot;f'g&#x9;h&#xA;");
  t.equal(c14nText('x\u0000y\uFFFEz\uD800'), 'x\uFFFDy\uFFFDz\uFFFD', 'controls and lone surrogates become U+FFFD');
  t.equal(c14nAttr('𝄞\uDC00'), '𝄞\uFFFD', 'a surrogate pair is kept, a lone low surrogate is not');
});

const modes = [
  { signResponse: false, signAssertion: true },
  { signResponse: true, signAssertion: false },
  { signResponse: true, signAssertion: true },
];
for (const mode of modes) {
  t.test(
    `login Response ${JSON.stringify(mode)}: canonical, accepted by xml-crypto and by us, values intact`,
    async (t) => {
      const attributes = {
        email: ['ann@customer.example'],
        [`weird${nasty}`]: [nasty, ''],
        groups: ['jira-users', nasty],
      };
      const built = await buildLoginResponse({
        idp,
        app: { ...app, ...mode },
        inResponseTo: `_r"${nasty}`,
        nameId: `ann${nasty}@customer.example`,
        sessionIndex: `_s${nasty}`,
        attributes,
        now: new Date(),
        authnInstant: new Date(),
        authnContextClassRef: `urn:x:${nasty}`,
      });
      const xml = Buffer.from(built.samlResponse, 'base64').toString();
      const doc = parse(xml);
      const response = doc.documentElement;
      const assertion = doc.getElementsByTagNameNS(SAML, 'Assertion')[0] as Element;
      if (mode.signResponse) proveSigned(t, xml, response, 'response');
      else t.notOk(dsChild(response, 'Signature'), 'the response is not signed');
      if (mode.signAssertion) proveSigned(t, xml, assertion, 'assertion');
      else t.notOk(dsChild(assertion, 'Signature'), 'the assertion is not signed');
      // A signed response around a signed assertion: the whole document is its canonical form plus the signatures.
      if (mode.signResponse && mode.signAssertion)
        t.equal(
          xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, ''),
          new ExclusiveCanonicalization().process(
            parse(xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '')).documentElement as never,
            { inclusiveNamespacesPrefixList: ['xs'] },
          ),
          'canonical as a whole',
        );

      const text = (name: string) => (doc.getElementsByTagNameNS(SAML, name)[0] as Element).textContent;
      t.equal(
        text('NameID'),
        `ann${carried}@customer.example`,
        'NameID: \\r, \\n, tab, non-ASCII and ]]> survive; the control character is U+FFFD',
      );
      t.equal(text('Audience'), app.entityId.replace('\u0001', '\uFFFD'));
      t.equal(text('Issuer'), idp.entityId.replace('\u0001', '\uFFFD'));
      t.equal(text('AuthnContextClassRef'), `urn:x:${carried}`);
      const confirmation = doc.getElementsByTagNameNS(SAML, 'SubjectConfirmationData')[0] as Element;
      t.equal(
        confirmation.getAttribute('Recipient'),
        app.acsUrl.replace('\u0001', '\uFFFD'),
        'attribute values keep tab, CR and LF',
      );
      t.equal(confirmation.getAttribute('InResponseTo'), `_r"${carried}`);
      t.equal(response.getAttribute('Destination'), app.acsUrl.replace('\u0001', '\uFFFD'));
      t.equal(
        (doc.getElementsByTagNameNS(SAML, 'AuthnStatement')[0] as Element).getAttribute('SessionIndex'),
        `_s${carried}`,
      );
      const values = Array.from(doc.getElementsByTagNameNS(SAML, 'Attribute') as unknown as Element[]).map((a) => [
        a.getAttribute('Name'),
        Array.from(a.getElementsByTagNameNS(SAML, 'AttributeValue') as unknown as Element[]).map((v) => v.textContent),
      ]);
      t.same(values, [
        ['email', ['ann@customer.example']],
        [`weird${carried}`, [carried, '']],
        ['groups', ['jira-users', carried]],
      ]);
      const value = doc.getElementsByTagNameNS(SAML, 'AttributeValue')[0] as Element;
      t.equal(value.getAttribute('xsi:type'), 'xs:string', 'AttributeValue keeps xsi:type="xs:string"');
      t.equal(value.lookupNamespaceURI('xs'), 'http://www.w3.org/2001/XMLSchema', 'and the xs declaration it needs');
    },
  );
}

t.test('login Response around an encrypted assertion, response signed: canonical and accepted', async (t) => {
  const built = await buildLoginResponse({
    idp,
    app: {
      ...app,
      signResponse: true,
      signAssertion: true,
      encryptAssertion: true,
      certificatePem: appCred.certificatePem,
    },
    inResponseTo: null,
    nameId: `ann${nasty}`,
    sessionIndex: '_s',
    attributes: { groups: [nasty] },
    now: new Date(),
    authnInstant: new Date(),
  });
  const xml = Buffer.from(built.samlResponse, 'base64').toString();
  t.match(xml, /<saml:EncryptedAssertion/);
  proveSigned(t, xml, parse(xml).documentElement, 'response');
});

t.test('error Response: canonical, accepted by xml-crypto and by us', async (t) => {
  const built = buildErrorResponse({
    idp,
    acsUrl: app.acsUrl,
    appEntityId: app.entityId,
    inResponseTo: `_r${nasty}`,
    status: 'Responder',
    subStatus: 'RequestDenied',
    message: nasty,
    now: new Date(),
  });
  const xml = Buffer.from(built.samlResponse, 'base64').toString();
  const doc = parse(xml);
  proveSigned(t, xml, doc.documentElement, 'error response');
  t.equal(doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:protocol', 'StatusMessage')[0].textContent, carried);
});

t.test('xmlsec1 (another implementation) verifies both signatures of a hostile Response', async (t) => {
  const built = await buildLoginResponse({
    idp,
    app,
    inResponseTo: `_r${nasty}`,
    nameId: `ann${nasty}`,
    sessionIndex: `_s${nasty}`,
    attributes: { groups: [nasty, 'x'] },
    now: new Date(),
    authnInstant: new Date(),
  });
  const dir = mkdtempSync(join(tmpdir(), 'xmlsec-'));
  writeFileSync(join(dir, 'cert.pem'), cred.certificatePem);
  writeFileSync(join(dir, 'resp.xml'), Buffer.from(built.samlResponse, 'base64'));
  for (const node of [
    'urn:oasis:names:tc:SAML:2.0:protocol:Response',
    'urn:oasis:names:tc:SAML:2.0:assertion:Assertion',
  ]) {
    execFileSync(
      'xmlsec1',
      [
        '--verify',
        '--pubkey-cert-pem',
        join(dir, 'cert.pem'),
        '--id-attr:ID',
        node,
        '--node-name',
        node,
        join(dir, 'resp.xml'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.pass(`xmlsec1 verified ${node.split(':').pop()}`);
  }
});

// The logout and AuthnRequest templates (logout.ts, upstream/authn-request.ts) are not written canonical; for the
// POST binding encodeOutgoing canonicalises them (one parse) for the digest and sends them as written, signed.
const signer = { keyPem: cred.privateKeyPem, certificatePem: cred.certificatePem };
const posted = (out: ReturnType<typeof encodeOutgoing>, param: string) => {
  if (out.binding !== 'post') throw new Error('expected the POST binding');
  return Buffer.from(out.fields[param], 'base64').toString();
};

t.test('POST-binding LogoutRequest: canonical, accepted by xml-crypto and by us', async (t) => {
  const { id, xml: template } = logoutRequestXml({
    issuer: `https://pp.broker.test/${nasty}`,
    destination: `https://app.example/slo?a=1&b="${nasty}"`,
    now: new Date(),
    nameId: `ann${nasty}`,
    nameIdFormat: `urn:f:${nasty}`,
    sessionIndex: `_s${nasty}`,
  });
  const xml = posted(
    encodeOutgoing({
      xml: template,
      id,
      param: 'SAMLRequest',
      destination: 'https://app.example/slo',
      binding: 'post',
      relayState: nasty,
      signer,
    }),
    'SAMLRequest',
  );
  const doc = parse(xml);
  proveSigned(t, xml, doc.documentElement, 'logout request', 'as the template wrote it');
  t.equal(xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, ''), template, 'sent as the template wrote it');
  // The template escapes with xmlEscape, so XML's own line-end and attribute normalisation apply to its values.
  t.equal(doc.getElementsByTagNameNS(SAML, 'NameID')[0].textContent, `ann${nasty}`.replace(/\r\n?/g, '\n'));
});

t.test('POST-binding LogoutResponse: canonical, accepted by xml-crypto and by us', async (t) => {
  const { id, xml: template } = logoutResponseXml({
    issuer: `https://pp.broker.test/${nasty}`,
    destination: `https://app.example/slo?${nasty}`,
    now: new Date(),
    inResponseTo: `_r${nasty}`,
    status: 'PartialLogout',
    message: nasty,
  });
  const xml = posted(
    encodeOutgoing({
      xml: template,
      id,
      param: 'SAMLResponse',
      destination: 'https://app.example/slo',
      binding: 'post',
      signer,
    }),
    'SAMLResponse',
  );
  proveSigned(t, xml, parse(xml).documentElement, 'logout response', 'as the template wrote it');
});

t.test(
  'POST binding, a message whose text before the Issuer end is not only tags and text: its canonical form is sent',
  async (t) => {
    const { id, xml: template } = logoutRequestXml({
      issuer: 'https://pp.broker.test',
      destination: 'https://app.example/slo',
      now: new Date(),
      nameId: 'ann',
    });
    const tricky = template.replace('<saml:Issuer>', '<!-- </saml:Issuer> --><saml:Issuer>');
    const xml = posted(
      encodeOutgoing({
        xml: tricky,
        id,
        param: 'SAMLRequest',
        destination: 'https://app.example/slo',
        binding: 'post',
        signer,
      }),
      'SAMLRequest',
    );
    t.notMatch(xml, /<!--/, 'the comment is not in the canonical form');
    proveSigned(t, xml, parse(xml).documentElement, 'logout request');
  },
);

t.test('POST-binding AuthnRequest: canonical, accepted by xml-crypto and by us', async (t) => {
  const sp = {
    entityId: `https://pp.broker.test/sp/${nasty}`,
    acsUrl: `https://pp.broker.test/acs?${nasty}`,
    signingKeyPem: cred.privateKeyPem,
    certificatePem: cred.certificatePem,
    decryptionKeys: [],
  };
  const upstream: UpstreamIdp = {
    entityId: 'https://idp.example',
    ssoUrl: `https://idp.example/sso?${nasty}`,
    ssoBinding: 'post',
    certificates: [],
    signRequests: true,
    wantResponseSigned: false,
    wantAssertionSigned: true,
    allowSha1: false,
  };
  const request = buildUpstreamAuthnRequest(sp, upstream, { relayState: 'rs', now: new Date(), forceAuthn: true });
  if (request.binding !== 'post') throw new Error('expected the POST binding');
  const xml = Buffer.from(request.fields.SAMLRequest, 'base64').toString();
  const doc = parse(xml);
  proveSigned(t, xml, doc.documentElement, 'AuthnRequest', 'as the template wrote it');
  t.equal(doc.documentElement.getAttribute('ID'), request.id);
  t.equal(doc.documentElement.getAttribute('ForceAuthn'), 'true');
});
