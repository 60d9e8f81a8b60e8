import { Type, type Static, type TSchema } from "@sinclair/typebox";

/**
 * The pieces every API schema is built of (TypeBox: JSON Schema draft-07 subset shared with
 * OpenAPI 3.1, types by `Static<>`). Request bodies close their properties; responses are open
 * (a reader ignores fields it does not know) but name every field they promise.
 */

/** A closed request-body object: unknown fields are refused (400 naming the field). */
export const Body = <P extends Parameters<typeof Type.Object>[0]>(properties: P) =>
  Type.Object(properties, { additionalProperties: false });
/** A response object (open: later fields do not break readers). */
export const Out = <P extends Parameters<typeof Type.Object>[0]>(properties: P, description?: string) =>
  Type.Object(properties, description ? { description } : {});
export const opt = Type.Optional;

/** A non-empty string of at most `maxLength` characters, optionally matching `pattern`. */
export const str = (maxLength: number, pattern?: string) =>
  Type.String({ minLength: 1, maxLength, ...(pattern ? { pattern } : {}) });
/** One of the values (a plain JSON Schema `enum`: the refusal names the field and the keyword `enum`). */
export const Enum = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Unsafe<T[number]>({ enum: [...values], ...(description ? { description } : {}) });
/** An instant: a Date in the handler, an ISO 8601 string on the wire (res.json serialises it). */
export const DateTime = Type.Unsafe<Date | string>({ type: "string", format: "date-time" });
/** A calendar day (YYYY-MM-DD). */
export const DAY = Type.String({ format: "date" });
/** A JSON value whose shape this API does not fix (a policy's own data, an audit entry's details). */
export const Any = Type.Unknown();

export const ID = str(64, "^[0-9a-f]{32}$");
export const SERIAL = str(66, "^[0-9a-fA-F]{2,64}$");
export const NATIONAL_ID = str(32, "^[0-9A-Za-z -]{4,32}$");
export const DOCUMENT = Body({
  type: str(40, "^[a-z][a-z-]{1,40}$"),
  number: str(32, "^[0-9A-Za-z -]{4,32}$"),
  expires: DAY,
});
export const CHANNEL = Enum(["mail", "in-person", "sms", "email"]);
/** E.164 phone number (REQ-15: where SMS go). */
export const PHONE = str(16, "^\\+[1-9][0-9]{6,14}$");
/** Postal address: 2 to 6 lines separated by \n (REQ-15: where letters go); checked line by line by the RA. */
export const POSTAL_ADDRESS = str(490, "^[^\\u0000-\\u0009\\u000b-\\u001f\\u007f]+$");
export const ROLE_NAMES = ["ra-officer", "ra-admin", "auditor", "ca-operator", "service-owner-staff"] as const;
export const ROLE = Enum(ROLE_NAMES);
/** A body with no fields (a step that takes none; `{}` or no body at all). */
export const EMPTY_BODY = Body({});
/** The answer of a 204: no content. */
export const NO_CONTENT = Type.Undefined();

/** The caller as the client certificate says (REQ-22): never a token, a hash or a national ID. */
export const ACTOR = Out({
  kind: Enum(["officer", "applicant", "holder", "system"]),
  credentialSerial: opt(Type.String()),
  loa: opt(Type.Number()),
  credentialOnHold: opt(Type.Boolean()),
  personId: opt(Type.String()),
  humanId: opt(Type.String()),
  roles: Type.Array(ROLE),
  organisationId: opt(Type.String()),
  qualifiedUntil: opt(DateTime),
  serviceOwnerStaff: opt(Type.Boolean()),
});

/** RFC 7807 problem details as http/problem.ts writes them. */
export const PROBLEM = Out({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: opt(Type.String()),
  guard: opt(Type.String()),
  rule: opt(Type.String()),
  requirement: opt(Type.String()),
  pair: opt(Type.Array(Type.String())),
  problems: opt(Type.Array(Type.String())),
  code: opt(Type.String()),
  lang: opt(Type.String()),
  incident: opt(Type.String()),
});

/** A handler's answer of schema R: its type, read-only all the way down (a service's readonly arrays pass). */
export type Answer<R extends TSchema> = ReadOnlyDeep<Static<R>>;
type ReadOnlyDeep<T> = T extends Date
  ? T
  : T extends readonly (infer E)[]
    ? readonly ReadOnlyDeep<E>[]
    : T extends object
      ? { readonly [K in keyof T]: ReadOnlyDeep<T[K]> }
      : T;

export type { Static, TSchema };
