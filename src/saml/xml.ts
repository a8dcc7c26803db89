// Escaping for values we place into XML we write ourselves (metadata, POST forms are HTML-escaped by the view).
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
export const xmlEscape = (value: string) => value.replace(/[&<>"']/g, (c) => ENTITIES[c]);

// The same escaping, in the exact form C14N gives (https://www.w3.org/TR/xml-c14n#ProcessingModel), for templates
// that write an element already canonical so that its signature needs no parse (see signature/sign.ts). Both are
// complete escapings for their context: nothing else can end a value or start markup there. Text: & < > and CR as
// references (a raw CR would be read back as LF). Attribute values (always written between double quotes): & < "
// and TAB, LF, CR as references (raw, the parser would normalise them to spaces).
//
// Characters XML 1.0 cannot carry at all (controls other than TAB, LF, CR; U+FFFE, U+FFFF; lone surrogates). A
// hostile value (an IdP attribute, an imported user field) could hold them: they become U+FFFD rather than a document
// no app can parse.
const NOT_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const C14N_TEXT: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };
const C14N_ATTR: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '"': '&quot;',
  '\t': '&#x9;',
  '\n': '&#xA;',
  '\r': '&#xD;',
};
export const c14nText = (value: string) => value.replace(NOT_XML, '\uFFFD').replace(/[&<>\r]/g, (c) => C14N_TEXT[c]);
export const c14nAttr = (value: string) =>
  value.replace(NOT_XML, '\uFFFD').replace(/[&<"\t\n\r]/g, (c) => C14N_ATTR[c]);
