import { Ajv, type ValidateFunction } from "ajv";
import type { NextFunction, Request, Response } from "express";
import type { TSchema } from "@sinclair/typebox";
import type { Answer } from "./schemas/common.schemas.js";
import { CaError } from "../shared/ca-error.js";
import type { FieldFault } from "../i18n/refusal-words.js";

/** A JSON Schema (the API's are TypeBox schemas in src/http/schemas/, draft-07 subset shared with OpenAPI 3.1). */
export type Schema = object;

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
  // Words per field (http/problem.ts renders them in the reader's language): the field, the rule it broke, never the
  // pattern.
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

/** Writes a JSON answer of the schema's type (src/http/schemas/): a wrong shape does not compile. */
export function sendJson<R extends TSchema>(res: Response, status: number, _schema: R, value: Answer<R>): void {
  res.status(status).json(value);
}
