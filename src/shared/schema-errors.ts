import type { ErrorObject } from "ajv";

/** What a JSON Schema validation found, in one line: each problem's path and message, an unknown key by name. */
export function schemaErrorText(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map(
      (e) =>
        `${e.instancePath || "/"} ${e.message}` +
        (e.params && "additionalProperty" in e.params ? ` '${String(e.params.additionalProperty)}'` : ""),
    )
    .join("; ");
}
