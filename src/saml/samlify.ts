// The one place samlify is configured. samlify refuses every message until a schema validator is set; ours is
// libxml2 (WebAssembly) with the SAML protocol schema compiled once per process (see schema-validator.ts).
import * as samlify from 'samlify';
import { createSchemaValidator } from './schema-validator.ts';

let configured = false;

export function getSamlify(): typeof samlify {
  if (!configured) {
    samlify.setSchemaValidator(createSchemaValidator());
    configured = true;
  }
  return samlify;
}
