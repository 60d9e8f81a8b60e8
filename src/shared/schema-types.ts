import { Type, type TProperties } from "@sinclair/typebox";

/*
 * Pieces the policy and ceremony file schemas are built of (TypeBox: the JSON Schema ajv compiles and the
 * TypeScript type by `Static<>`, defined once).
 */

/** A closed object: an unknown key is refused by name. */
export const Closed = <T extends TProperties>(properties: T, options: { minProperties?: number } = {}) =>
  Type.Object(properties, { ...options, additionalProperties: false });
/** One of the values, as a plain JSON Schema `enum` (refused with "must be equal to one of the allowed values"). */
export const Enum = <const T extends readonly (string | number)[]>(values: T) =>
  Type.Unsafe<T[number]>({ enum: [...values] });
/** What a loaded document is: read-only all the way down (arrays and tuples too). */
export type Frozen<T> = T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;
