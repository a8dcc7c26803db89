// Our templates claim to write signed elements already in exclusive-C14N form (canonical-xml.ts). Checked here against
// xml-crypto's canonicaliser, with hostile values in every field: if a template drifted from canonical form, the
// canonical octets would differ from ours and every app would reject the signature.
import t from 'tap';
import { DOMParser } from '@xmldom/xmldom';
import { ExclusiveCanonicalization, SignedXml } from 'xml-crypto';
import { c14nAttr, c14nText } from '../../src/saml/canonical-xml.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { buildErrorResponse, buildLoginResponse, type DownstreamApp } from '../../src/saml/downstream/response.ts';

const cred = generateSigningCredential('canonical-test');
const idp = { entityId: 'https://pp.broker.test/saml/idp/metadata?a=1&b="2"', signingKeyPem: cred.privateKeyPem, certificatePem: cred.certificatePem };
const nasty = 'a<b>&"c"]]>\' \r\n\t é 𝄞 \u0001 end';
const app: DownstreamApp = { entityId: `https://jira.example/${nasty}`, acsUrl: 'https://jira.example/acs?x=1&y="2"', signResponse: true, signAssertion: true, encryptAssertion: false, nameIdFormat: 'emailAddress' };
const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';

const parse = (xml: string) => new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;

/** xml-crypto's exclusive C14N of `el` without its own ds:Signature child (the enveloped transform), PrefixList xs. */
function canonical(el: Element): string {
  const copy = el.cloneNode(true) as Element;
  for (let n = copy.firstChild; n; n = n.nextSibling) if ((n as Element).localName === 'Signature' && (n as Element).namespaceURI === DSIG) { copy.removeChild(n); break; }
  return new ExclusiveCanonicalization().process(copy as never, { inclusiveNamespacesPrefixList: ['xs'] }) as string;
}

/** Verifies the signature that is a child of `el` with xml-crypto, against the whole document. */
function xmlCryptoAccepts(xml: string, el: Element): boolean {
  const signature = Array.from(el.childNodes as unknown as Element[]).find((n) => n.localName === 'Signature' && n.namespaceURI === DSIG)!;
  const sig = new SignedXml({ publicCert: cred.certificatePem, getCertFromKeyInfo: () => null });
  sig.loadSignature(signature);
  return sig.checkSignature(xml);
}

t.test('C14N escaping: text and attribute values, and characters XML cannot carry', async (t) => {
  t.equal(c14nText('a&b<c>d\re"f\'g\th\n'), 'a&amp;b&lt;c&gt;d&#xD;e"f\'g\th\n');
  t.equal(c14nAttr('a&b<c>d\re"f\'g\th\n'), 'a&amp;b&lt;c>d&#xD;e&quot;f\'g&#x9;h&#xA;');
  t.equal(c14nText('x\u0000y\uFFFEz\uD800'), 'x\uFFFDy\uFFFDz\uFFFD', 'controls and lone surrogates become U+FFFD');
  t.equal(c14nText('𝄞'), '𝄞', 'a surrogate pair is kept');
});

for (const mode of [{ signResponse: true, signAssertion: false }, { signResponse: false, signAssertion: true }, { signResponse: true, signAssertion: true }]) {
  t.test(`login Response ${JSON.stringify(mode)}: what we signed is xml-crypto's canonical form, and xml-crypto verifies it`, async (t) => {
    const built = await buildLoginResponse({
      idp, app: { ...app, ...mode }, inResponseTo: `_r"${nasty}`, nameId: `ann${nasty}@customer.example`, sessionIndex: `_s${nasty}`,
      attributes: { email: ['ann@customer.example'], [`weird${nasty}`]: [nasty, ''], groups: ['jira-users', nasty] }, now: new Date(), authnInstant: new Date(),
    });
    const xml = Buffer.from(built.samlResponse, 'base64').toString();
    const doc = parse(xml);
    const response = doc.documentElement;
    const assertion = doc.getElementsByTagNameNS(SAML_NS, 'Assertion')[0];
    const signed = [...(mode.signResponse ? [response] : []), ...(mode.signAssertion || !mode.signResponse ? [assertion] : [])];
    for (const el of signed) {
      const expectedDigest = (el.getElementsByTagNameNS(DSIG, 'DigestValue')[0] as Element).textContent;
      const { createHash } = await import('node:crypto');
      t.equal(createHash('sha256').update(canonical(el)).digest('base64'), expectedDigest, `${el.localName}: digest of xml-crypto's canonical form`);
      t.ok(xmlCryptoAccepts(xml, el), `${el.localName}: xml-crypto accepts the signature`);
    }
    const nameId = doc.getElementsByTagNameNS(SAML_NS, 'NameID')[0].textContent;
    t.equal(nameId, `ann${nasty.replace('\u0001', '\uFFFD')}@customer.example`, 'values survive, \\r included, with the control character replaced');
    t.equal(doc.getElementsByTagNameNS(SAML_NS, 'Audience')[0].textContent, app.entityId.replace('\u0001', '\uFFFD'));
  });
}

t.test('error Response: canonical, verified by xml-crypto', async (t) => {
  const built = buildErrorResponse({ idp, acsUrl: app.acsUrl, appEntityId: app.entityId, inResponseTo: `_r${nasty}`, status: 'Responder', subStatus: 'RequestDenied', message: nasty, now: new Date() });
  const xml = Buffer.from(built.samlResponse, 'base64').toString();
  const response = parse(xml).documentElement;
  t.ok(xmlCryptoAccepts(xml, response));
});

t.test('a changed value breaks the signature', async (t) => {
  const built = await buildLoginResponse({ idp, app: { ...app, signResponse: false, signAssertion: true }, inResponseTo: null, nameId: 'ann@customer.example', sessionIndex: '_s', attributes: {}, now: new Date(), authnInstant: new Date() });
  const xml = Buffer.from(built.samlResponse, 'base64').toString().replace('ann@customer.example', 'eve@customer.example');
  t.notOk(xmlCryptoAccepts(xml, parse(xml).getElementsByTagNameNS(SAML_NS, 'Assertion')[0]));
});
