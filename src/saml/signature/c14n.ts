// The exclusive canonicaliser shared by signing (sign.ts, for XML not written canonical) and verifying (verify.ts):
// xml-crypto's ExclusiveCanonicalization, with the namespaces it assumes for a prefixed node the parser left without
// one (as xml-crypto's SignedXml does).
import { ExclusiveCanonicalization } from 'xml-crypto';
import { NS } from '../xml-dom.ts';

export const canonicalizer = new ExclusiveCanonicalization();
export const DEFAULT_NS_FOR_PREFIX = { ds: NS.ds };
