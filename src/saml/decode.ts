// Turning a SAML message from the wire into XML text, with the limits and refusals every binding needs:
// strict base64, a size bound on the encoded, decoded and inflated forms, and no DOCTYPE (entity expansion, XXE).
import { kMaxLength } from 'node:buffer';
import { inflateRawSync } from 'node:zlib';
import { SamlError } from './errors.ts';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function decodeBase64(encoded: string, maxBytes: number): Buffer {
  const compact = encoded.replace(/\s+/g, '');
  if (compact.length > Math.ceil((maxBytes * 4) / 3) + 4)
    throw new SamlError('saml_too_large', `The SAML message is larger than ${maxBytes} bytes.`, {
      encodedLength: compact.length,
    });
  if (!compact.length || compact.length % 4 !== 0 || !BASE64.test(compact))
    throw new SamlError('saml_malformed', 'The SAML message is not valid base64.');
  return Buffer.from(compact, 'base64');
}

export function checkXmlText(xml: string): string {
  if (/<!DOCTYPE/i.test(xml)) throw new SamlError('saml_doctype', 'SAML messages with a DOCTYPE are refused.');
  if (!xml.trimStart().startsWith('<')) throw new SamlError('saml_malformed', 'The SAML message is not XML.');
  return xml;
}

/** HTTP-POST binding: base64 of the XML. Some SPs (node-saml among them) also DEFLATE a POSTed request; with
 *  `tolerateDeflate` that is accepted, as SimpleSAMLphp does, under the same inflation cap. */
export function decodePostBinding(encoded: string, maxBytes: number, opts: { tolerateDeflate?: boolean } = {}): string {
  const raw = decodeBase64(encoded, maxBytes);
  const text = raw.toString('utf8');
  if (opts.tolerateDeflate && !text.trimStart().startsWith('<')) return inflateCapped(raw, maxBytes);
  return checkXmlText(text);
}

function inflateCapped(compressed: Buffer, maxBytes: number): string {
  // The cap is the configured message limit, always: an out-of-range cap would make zlib throw a RangeError for
  // every message, which must not pass for "too large" (it once refused every compressed POST that way).
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > kMaxLength)
    throw new RangeError(`SAML inflation limit out of range: ${maxBytes}`);
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(compressed, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new SamlError('saml_too_large', `The SAML message inflates to more than ${maxBytes} bytes.`);
    throw new SamlError('saml_malformed', 'The SAML message is neither XML nor valid DEFLATE data.');
  }
  return checkXmlText(inflated.toString('utf8'));
}

/** HTTP-Redirect binding: base64 of the raw-DEFLATEd XML; inflation is capped so a small bomb cannot grow. */
export function decodeRedirectBinding(encoded: string, maxBytes: number): string {
  return inflateCapped(decodeBase64(encoded, maxBytes), maxBytes);
}
