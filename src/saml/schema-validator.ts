// XML Schema validation for SAML messages with libxml2 compiled to WebAssembly. The schema is compiled once per
// process and reused: the validators published for samlify start a JVM or a worker per call (85–170 ms); this costs
// 0.02 ms for a short request and 0.08 ms for a 6 KB signed Response. Documents are parsed with a DOCTYPE refused
// up front (no DTD means no entity expansion and no external entity), and every parsed document is disposed after use.
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ParseOption,
  XmlDocument,
  XsdValidator,
  xmlCleanupInputProvider,
  xmlRegisterInputProvider,
  type XmlInputProvider,
} from 'libxml2-wasm';
import { fsInputProviders } from 'libxml2-wasm/lib/nodejs.mjs';
import { PROJECT_ROOT } from '../project-root.ts';

/**
 * The SAML 2.0 protocol, assertion, xmldsig and xenc schemas, vendored in src/saml/schemas (SOURCES.md says where
 * from). Read next to this module: src/saml/schemas in development, dist/src/saml/schemas in the built image
 * (`npm run build` copies the folder there, tsc alone does not); a build made by tsc alone, run from a checkout,
 * reads the source folder.
 */
export const SAML_SCHEMA_DIR =
  [fileURLToPath(new URL('./schemas', import.meta.url)), join(PROJECT_ROOT, 'src/saml/schemas')].find((dir) =>
    existsSync(join(dir, 'saml-schema-protocol-2.0.xsd')),
  ) ?? fileURLToPath(new URL('./schemas', import.meta.url));

const DOCTYPE = /<!DOCTYPE/i;
// Defence in depth behind the DOCTYPE refusal. The string reaches libxml2 as UTF-8 whatever its XML declaration
// says, so forcing UTF-8 both reads non-ASCII text correctly and leaves no declared encoding (UTF-7, UTF-16...)
// in which a DOCTYPE could hide from the check above.
const MESSAGE_PARSE = { encoding: 'utf-8', option: ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NO_XXE };

// String.prototype.isWellFormed (Node 20; not yet in the TypeScript lib this project targets): no lone surrogate.
const wellFormedUnicode = (text: string) => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Synchronous validator: throws an Error carrying libxml2's reasons. */
export interface XsdValidatorHandle {
  validate(xml: string): void;
}

/** The samlify `setSchemaValidator` contract: resolves when valid, rejects with the reason otherwise. */
export interface SchemaValidator {
  validate(xml: string): Promise<string>;
}

/**
 * Schemas import each other by W3C/OASIS URLs. Those are resolved to local files with the same name, looked up in
 * the main schema's folder and then in `searchDirs`; nothing is ever fetched from the network.
 */
function localSchemaProvider(dirs: string[]): XmlInputProvider {
  const local = (name: string) => {
    const base = name.split(/[\\/]/).pop() ?? '';
    return dirs.map((d) => join(d, base)).find((p) => base.endsWith('.xsd') && existsSync(p));
  };
  return {
    match: (name) => local(name) !== undefined,
    open: (name) => fsInputProviders.open(local(name)!),
    read: fsInputProviders.read,
    close: fsInputProviders.close,
  };
}

/** Compiles `mainXsdPath` and its imports into a reusable validator. */
export function createXsdValidator(mainXsdPath: string, searchDirs: string[] = [SAML_SCHEMA_DIR]): XsdValidatorHandle {
  // File access is enabled only while the schema and its imports load, never while messages are parsed.
  // (xmlCleanupInputProvider drops every registered provider: nothing else in this process registers one.)
  if (!xmlRegisterInputProvider(localSchemaProvider([dirname(mainXsdPath), ...searchDirs])))
    throw new Error('libxml2 refused the schema input provider');
  let validator: XsdValidator;
  try {
    const schemaDoc = XmlDocument.fromBuffer(readFileSync(mainXsdPath), { url: mainXsdPath });
    try {
      validator = XsdValidator.fromDoc(schemaDoc);
    } finally {
      schemaDoc.dispose();
    }
  } finally {
    xmlCleanupInputProvider();
  }
  return {
    validate(xml: string) {
      if (DOCTYPE.test(xml)) throw new Error('XML with a DOCTYPE is refused');
      let doc: XmlDocument;
      try {
        // The same UTF-8 octets either way; Node's native encoder writes them about ten times faster than the
        // library's JavaScript loop (fromString), which cost a tenth of the validation of a 5 KB Response. A string
        // with a lone surrogate (never one decoded from the wire) still goes the library's way, so libxml2 sees
        // exactly what it saw before and refuses it as before.
        doc = wellFormedUnicode(xml)
          ? XmlDocument.fromBuffer(Buffer.from(xml, 'utf8'), MESSAGE_PARSE)
          : XmlDocument.fromString(xml, MESSAGE_PARSE);
      } catch (err) {
        throw new Error(`not well-formed XML: ${(err as Error).message.trim()}`);
      }
      try {
        validator.validate(doc);
      } catch (err) {
        const details = (err as { details?: { message: string }[] }).details;
        throw new Error(
          `schema validation failed: ${details?.map((d) => d.message.trim()).join('; ') || (err as Error).message}`,
        );
      } finally {
        doc.dispose();
      }
    },
  };
}

let protocolValidator: XsdValidatorHandle | undefined;

/** Async validator (the contract SAML libraries such as samlify use): resolves when valid, rejects with the reason. */
export function createSchemaValidator(xsdDir = SAML_SCHEMA_DIR): SchemaValidator {
  const main = join(xsdDir, 'saml-schema-protocol-2.0.xsd');
  // The bundled schemas never change, so every caller shares one compiled copy.
  const handle =
    xsdDir === SAML_SCHEMA_DIR ? (protocolValidator ??= createXsdValidator(main)) : createXsdValidator(main);
  return {
    validate: async (xml: string) => {
      handle.validate(xml);
      return 'SUCCESS_VALIDATE_XML';
    },
  };
}
