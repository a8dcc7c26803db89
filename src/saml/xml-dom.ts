// DOM parsing for SAML messages that already passed checkXmlText (no DOCTYPE). Parser errors are failures, not
// warnings to log and continue past.
import { DOMParser } from '@xmldom/xmldom';
import { SamlError } from './errors.ts';

export const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
} as const;

export function parseXml(xml: string): Document {
  const problems: string[] = [];
  const doc = new DOMParser({
    errorHandler: (level: string, msg: string) => {
      if (level !== 'warning') problems.push(msg);
    },
  } as never).parseFromString(xml, 'text/xml') as unknown as Document;
  if (problems.length || !doc?.documentElement)
    throw new SamlError('saml_malformed', 'The SAML message is not well-formed XML.', {
      parser: problems[0] ?? 'no root element',
    });
  return doc;
}

/** Element children of `parent` with the given namespace and local name (direct children only). */
export function childElements(parent: Node, ns: string, localName: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === localName)
      out.push(n as Element);
  }
  return out;
}

export const firstChild = (parent: Node, ns: string, localName: string): Element | undefined =>
  childElements(parent, ns, localName)[0];

/** Every descendant element with that name, anywhere in the tree (used to count assertions, wherever hidden). */
export function descendants(root: Document | Element, ns: string, localName: string): Element[] {
  return Array.from(root.getElementsByTagNameNS(ns, localName) as unknown as ArrayLike<Element>);
}

/** Text content of an element; refuses XML comments and processing instructions inside it, which some parsers
 *  use to cut a value short (the "comment in NameID" attack). */
export function strictText(el: Element, what: string): string {
  let text = '';
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 3 || n.nodeType === 4) text += n.nodeValue ?? '';
    else throw new SamlError('saml_malformed', `The ${what} contains markup or comments.`);
  }
  return text.trim();
}
