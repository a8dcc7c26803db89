// Request-schema failures as the API's usual validation error: 400 `validation_failed` with `details.fields`
// keyed like the domain's own field errors (`acsUrls.0`, `rules.2.action`), so clients handle one shape whether
// the JSON schema or the domain refused a value. Also the error responses every route documents.
import type { FastifySchemaValidationError, SchemaErrorDataVar } from 'fastify/types/schema.js';
import { ValidationError } from '../../errors.ts';

export function fieldErrorsFromSchema(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  const fields: Record<string, string> = {};
  for (const e of errors) {
    const path = e.instancePath.split('/').filter(Boolean);
    // "required" and "additionalProperties" are reported on the parent object; name the property itself.
    const property = (e.params.missingProperty ?? e.params.additionalProperty) as string | undefined;
    if (property) path.push(property);
    const key = path.join('.') || dataVar;
    const message =
      e.keyword === 'required'
        ? 'is required'
        : e.keyword === 'additionalProperties'
          ? 'is not a known field'
          : (e.message ?? 'is not valid');
    fields[key] = fields[key] ?? message;
  }
  return new ValidationError(fields);
}

export const errorJson = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

/** 400 (validation_failed, details.fields), 401 (api_unauthorized), 404 (app_not_found), 409 (conflict). */
export const errorResponses = { 400: errorJson, 401: errorJson, 404: errorJson, 409: errorJson } as const;

export const appIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64, description: "The app's id" } },
} as const;
