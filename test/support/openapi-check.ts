import { Ajv, type ValidateFunction } from "ajv";

/** An OpenAPI 3.1 document as /api/openapi.json serves it (the parts the checks read). */
export interface OpenApiDoc {
  readonly paths: Record<string, Record<string, OpenApiOperation>>;
  readonly components: { readonly schemas: Record<string, unknown> };
}
export interface OpenApiOperation {
  readonly responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  readonly requestBody?: unknown;
}

/**
 * Checks real answers against the document's response schemas: the operation is found by method and
 * path template, the answer's status must be documented, and a JSON answer must validate (ajv,
 * strict; responses are open objects, so only promised fields and their types are checked).
 */
export function answerChecker(doc: OpenApiDoc): {
  check(method: string, path: string, status: number, body: unknown): void;
  readonly checked: ReadonlySet<string>;
} {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addFormat("date", /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  const templates = Object.keys(doc.paths).map((t) => ({
    t,
    re: new RegExp(`^${t.replace(/\{[^}]+\}/g, "[^/]+")}$`),
    literal: t.split("/").filter((s) => !s.startsWith("{")).length,
  }));
  const cache = new Map<string, ValidateFunction>();
  const checked = new Set<string>();
  return {
    checked,
    check(method, url, status, body) {
      if (status < 200 || status > 299) return; // problem+json answers: checked by the problem tests
      const path = url.split("?")[0]!;
      // The most specific template (most literal segments) wins: /orders/{id} before /orders/{id}/… clashes.
      const t = templates.filter((x) => x.re.test(path)).sort((a, b) => b.literal - a.literal)[0];
      if (!t) throw new Error(`${method} ${path}: not in the OpenAPI document`);
      const op = doc.paths[t.t]![method.toLowerCase()];
      if (!op) throw new Error(`${method} ${t.t}: no such operation in the OpenAPI document`);
      const r = op.responses[String(status)];
      if (!r) throw new Error(`${method} ${t.t}: status ${status} is not documented`);
      const media = r.content ? Object.keys(r.content)[0] : undefined;
      if (!media) {
        if (body !== undefined) throw new Error(`${method} ${t.t} ${status}: documented without content`);
        return;
      }
      const key = `${method.toUpperCase()} ${t.t} ${status}`;
      let v = cache.get(key);
      if (!v) {
        v = ajv.compile(r.content![media]!.schema);
        cache.set(key, v);
      }
      if (!v(body))
        throw new Error(
          `${key}: the answer does not match the documented schema: ` +
            `${ajv.errorsText(v.errors)}\n${JSON.stringify(body).slice(0, 2000)}`,
        );
      checked.add(`${method.toUpperCase()} ${t.t}`);
    },
  };
}
