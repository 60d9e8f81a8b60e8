import { Ajv, type ValidateFunction } from "ajv";
import type { NextFunction, Request, Response } from "express";
import { CaError } from "../shared/ca-error.js";
import type { FieldFault } from "../i18n/refusal-words.js";

/** JSON Schema (draft-07 subset shared with OpenAPI 3.1): every object closes its properties. */
export type Schema = Record<string, unknown>;

const ajv = new Ajv({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false });
ajv.addFormat("date", /^\d{4}-\d{2}-\d{2}$/);
ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
const cache = new WeakMap<Schema, ValidateFunction>();

export function compile(schema: Schema): ValidateFunction {
  let v = cache.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    cache.set(schema, v);
  }
  return v;
}

/** Validates a body; unknown fields and wrong types are an invalid-input error naming each field. */
export function validateBody(schema: Schema, body: unknown): void {
  const v = compile(schema);
  if (v(body)) return;
  const errors = v.errors ?? [];
  const problems = errors.map((e) => {
    const where = e.instancePath || "/";
    if (e.keyword === "additionalProperties")
      return `${where}: unknown field '${String((e.params as { additionalProperty: string }).additionalProperty)}'`;
    return `${where}: ${e.message}`;
  });
  // Words per field (http/problem.ts renders them in the reader's language): the field, the rule it broke, never the pattern.
  const fieldFaults: FieldFault[] = errors.map((e) => {
    const p = e.params as { additionalProperty?: string; missingProperty?: string; limit?: number };
    return {
      pointer: e.instancePath || "/",
      keyword: e.keyword,
      ...(typeof p.limit === "number" ? { limit: p.limit } : {}),
      ...(p.additionalProperty !== undefined
        ? { property: p.additionalProperty }
        : p.missingProperty !== undefined
          ? { property: p.missingProperty }
          : {}),
    };
  });
  throw new CaError(
    "invalid-input",
    `invalid request body: ${problems.join("; ")}`,
    { problems, fieldFaults },
    { code: "validation.invalid-body", params: { count: problems.length } },
  );
}

/** Bodies are JSON only (415 otherwise); the size limit is set on the parser. */
export function requireJson(req: Request, _res: Response, next: NextFunction): void {
  if (
    (req.method === "POST" || req.method === "PUT") &&
    req.headers["content-length"] !== "0" &&
    !req.is("application/json")
  )
    next(Object.assign(new Error("request bodies must be application/json"), { status: 415 }));
  else next();
}

// Shared pieces of the RA API schemas.
export const obj = (properties: Record<string, Schema>, required: readonly string[] = []): Schema => ({
  type: "object",
  additionalProperties: false,
  properties,
  required: [...required],
});
export const str = (maxLength: number, pattern?: string): Schema => ({
  type: "string",
  minLength: 1,
  maxLength,
  ...(pattern ? { pattern } : {}),
});
export const ID = str(64, "^[0-9a-f]{32}$");
export const SERIAL = str(66, "^[0-9a-fA-F]{2,64}$");
export const NATIONAL_ID = str(32, "^[0-9A-Za-z -]{4,32}$");
export const DOCUMENT = obj(
  {
    type: str(40, "^[a-z][a-z-]{1,40}$"),
    number: str(32, "^[0-9A-Za-z -]{4,32}$"),
    expires: { type: "string", format: "date" },
  },
  ["type", "number", "expires"],
);
export const CHANNEL: Schema = { enum: ["mail", "in-person", "sms", "email"] };
/** E.164 phone number (REQ-15: where SMS go). */
export const PHONE = str(16, "^\\+[1-9][0-9]{6,14}$");
/** Postal address: 2 to 6 lines separated by \n (REQ-15: where letters go); checked line by line by the RA. */
export const POSTAL_ADDRESS = str(490, "^[^\\u0000-\\u0009\\u000b-\\u001f\\u007f]+$");
