import type { RaRoute } from "./ra-route.js";
import { NO_CONTENT, PROBLEM, type TSchema } from "./schemas/common.schemas.js";
import { CA_LIST, PORTAL_SESSION } from "./schemas/portal.schemas.js";

/** What the document needs of a route (the RA API table and the applicant pages' table). */
export type DocumentedRoute = Pick<
  RaRoute,
  "method" | "path" | "summary" | "roles" | "body" | "status" | "response"
> & {
  readonly auth: RaRoute["auth"] | "public";
  /** Authenticated by the applicant session cookie (opened with the link's token). */
  readonly session?: boolean;
  /** Where the route is mounted (`/api/v1` unless said). */
  readonly prefix?: string;
};

/** The JSON routes outside the /api/v1 tables: sign-in by card (portal, holder pages) and the CA list. */
export const PAGE_ROUTES: readonly DocumentedRoute[] = [
  ...(["portal", "holder"] as const).map((pages) => ({
    method: "post" as const,
    prefix: "",
    path: `/${pages}/session`,
    summary:
      `Sign in to the ${pages === "portal" ? "officers' portal" : "holder pages"} ` +
      `with the card's client certificate (REQ-22): a session cookie and its CSRF token`,
    auth: pages === "portal" ? ("officer" as const) : ("holder" as const),
    status: 201,
    response: PORTAL_SESSION,
  })),
  ...(["portal", "holder"] as const).map((pages) => ({
    method: "delete" as const,
    prefix: "",
    path: `/${pages}/session`,
    summary: `Sign out of the ${pages === "portal" ? "officers' portal" : "holder pages"}: the session ends`,
    auth: "public" as const,
    status: 204,
    response: NO_CONTENT,
  })),
  {
    method: "get",
    prefix: "",
    path: "/ca",
    summary: "The published CA certificates (RFC 5280 4.2.2.1: each at its caIssuers URL)",
    auth: "public",
    response: CA_LIST,
  },
];

/** A JSON Schema for the document: TypeBox's schemas as plain JSON (its symbol keys dropped). */
const plain = (s: TSchema): Record<string, unknown> => JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
/** An answer schema, or none for a 204 (TypeBox's Undefined). */
const content = (s: TSchema) =>
  (s as { type?: unknown }).type === "undefined" ? {} : { content: { "application/json": { schema: plain(s) } } };

/**
 * OpenAPI 3.1 document of the RA API, generated from the same route table and schemas that validate requests and type
 * answers.
 */
export function openApiDocument(routes: readonly DocumentedRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of [...routes, ...PAGE_ROUTES]) {
    const path = `${r.prefix ?? "/api/v1"}${r.path.replace(/:([a-zA-Z]+)/g, "{$1}")}`;
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
      security:
        r.auth === "public"
          ? []
          : r.auth === "applicant"
            ? r.session
              ? [{ applicantSession: [] }]
              : []
            : [{ clientCertificate: [] }],
      tags: [r.auth],
      ...(params.length ? { parameters: params } : {}),
      ...(r.body
        ? { requestBody: { required: true, content: { "application/json": { schema: plain(r.body) } } } }
        : {}),
      responses: {
        [String(r.status ?? 200)]: { description: r.status === 204 ? "no content" : "OK", ...content(r.response) },
        ...(/\b202\b/.test(r.summary)
          ? {
              "202": {
                description: "accepted: waits for a second officer's approval (REQ-18, REQ-24)",
                ...content(r.response),
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
          "a workflow guard, the separation matrix or a policy rule refused (the " +
            "problem names the rule and requirement)",
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
        "Registration authority API. HTTPS with client certificates (mTLS) issued by " +
        "this CA from the ra-officer profile (officers) or card certificates " +
        "(holders). Errors are RFC 7807 problem+json.",
    },
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas: { Problem: plain(PROBLEM) },
      securitySchemes: {
        clientCertificate: { type: "mutualTLS", description: "TLS client certificate (REQ-22)" },
        applicantSession: {
          type: "apiKey",
          in: "cookie",
          name: "cardpki_applicant",
          description:
            "The applicant session opened with the single-use link token (POST " +
            "/api/v1/applicant/session); state changes also send its CSRF token in " +
            "X-CSRF-Token",
        },
      },
    },
  };
}
