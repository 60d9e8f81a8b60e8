import type { RaRoute } from "./ra.routes.js";

/** What the document needs of a route (the RA API table and the applicant pages' table). */
export type DocumentedRoute = Pick<RaRoute, "method" | "path" | "summary" | "roles" | "body" | "status"> & {
  readonly auth: RaRoute["auth"];
  /** Authenticated by the applicant session cookie (opened with the link's token). */
  readonly session?: boolean;
};

const PROBLEM = {
  type: "object",
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    guard: { type: "string" },
    rule: { type: "string" },
    requirement: { type: "string" },
    pair: { type: "array", items: { type: "string" } },
    problems: { type: "array", items: { type: "string" } },
  },
};

/** OpenAPI 3.1 document of the RA API, generated from the same route table and schemas that validate requests. */
export function openApiDocument(routes: readonly DocumentedRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = `/api/v1${r.path.replace(/:([a-zA-Z]+)/g, "{$1}")}`;
    const params = [...r.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const problem = (d: string) => ({
      description: d,
      content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
    });
    (paths[path] ??= {})[r.method] = {
      summary: r.summary,
      ...(r.roles
        ? { description: `Roles (enforced for every request, REQ-24): ${r.roles.join(", ")}`, "x-roles": r.roles }
        : {}),
      security: r.auth === "applicant" ? (r.session ? [{ applicantSession: [] }] : []) : [{ clientCertificate: [] }],
      tags: [r.auth],
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: r.body } } } } : {}),
      responses: {
        [String(r.status ?? 200)]: {
          description: "OK",
          content: { "application/json": { schema: { type: "object" } } },
        },
        ...(/\b202\b/.test(r.summary)
          ? {
              "202": {
                description: "accepted: waits for a second officer's approval (REQ-18, REQ-24)",
                content: { "application/json": { schema: { type: "object" } } },
              },
            }
          : {}),
        "400": problem("invalid input: malformed JSON, unknown field, wrong type"),
        "401": problem("no, unknown, expired, revoked or foreign client certificate (REQ-22)"),
        "403": problem("role (rule route-roles), grant rule, organisation scope or IP allow-list (REQ-23/24)"),
        "404": problem("not found"),
        "409": problem("the order changed meanwhile or the step is not possible in its state"),
        "413": problem("body too large"),
        "415": problem("body is not application/json"),
        "422": problem(
          "a workflow guard, the separation matrix or a policy rule refused (the problem names the rule and requirement)",
        ),
        ...(r.path.startsWith("/holder/cards") || r.path.includes("/revoke") || r.path.startsWith("/applicant/")
          ? { "429": problem("rate limit (REQ-18)") }
          : {}),
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "cardpki RA API",
      version,
      description:
        "Registration authority API. HTTPS with client certificates (mTLS) issued by this CA from the ra-officer profile (officers) or card certificates (holders). Errors are RFC 7807 problem+json.",
    },
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas: { Problem: PROBLEM },
      securitySchemes: {
        clientCertificate: { type: "mutualTLS", description: "TLS client certificate (REQ-22)" },
        applicantSession: {
          type: "apiKey",
          in: "cookie",
          name: "cardpki_applicant",
          description:
            "The applicant session opened with the single-use link token (POST /api/v1/applicant/session); state changes also send its CSRF token in X-CSRF-Token",
        },
      },
    },
  };
}
