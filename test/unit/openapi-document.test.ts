import { expect } from "chai";
import { Ajv } from "ajv";
import { join } from "node:path";
import type { Router } from "express";
import { buildRaApp } from "../../src/http/ra-server.js";
import { caRoutes } from "../../src/http/ca.routes.js";
import { openApiDocument } from "../../src/http/openapi.js";
import { RA_ROUTES, type RaApiDeps } from "../../src/http/ra.routes.js";
import { APPLICANT_ROUTES } from "../../src/http/applicant.routes.js";
import { raRoute } from "../../src/http/ra-route.js";
import { ORDER } from "../../src/http/schemas/ra.schemas.js";
import { answerChecker, type OpenApiDoc } from "../support/openapi-check.js";
import { REPO_ROOT } from "../support/test-ca.js";

interface Layer {
  readonly rawPath?: string;
  readonly slash?: boolean;
  readonly route?: { path: string | string[]; methods: Record<string, boolean> };
  readonly handle: { stack?: Layer[] };
}

/** Every (method, path) express has registered, nested routers with their mount paths. */
function registered(stack: readonly Layer[], prefix = ""): string[] {
  const out: string[] = [];
  for (const l of stack) {
    if (l.route)
      for (const p of ([] as string[]).concat(l.route.path))
        for (const m of Object.keys(l.route.methods)) out.push(`${m} ${prefix}${p}`);
    else if (l.handle.stack)
      out.push(...registered(l.handle.stack, l.slash || !l.rawPath ? prefix : prefix + l.rawPath));
  }
  return out;
}

const docPaths = (doc: OpenApiDoc) =>
  Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.keys(ops).map((m) => `${m} ${p.replace(/\{([a-zA-Z]+)\}/g, ":$1")}`),
  );
/** JSON routes: the API and sign-in by card (pages, their assets and locale catalogues are not). */
const isJsonRoute = (r: string) =>
  (/ \/api\//.test(r) && !r.endsWith("/api/openapi.json")) || / \/(portal|holder)\/session$/.test(r) || r === "get /ca";

describe("http/OpenAPI document: every route, real answer schemas (one schema per input and answer)", () => {
  const deps = { applicant: {} } as unknown as RaApiDeps;
  const app = buildRaApp(deps, "test", { assetsDir: join(REPO_ROOT, "src", "http", "portal-assets") });
  const doc = openApiDocument([...RA_ROUTES, ...APPLICANT_ROUTES], "test") as unknown as OpenApiDoc;

  it(`ok/every JSON route registered in express (RA API, applicant API, sign-in by card, the CA list) is in the \
document`, () => {
    const routes = [
      ...registered((app as unknown as { router: { stack: Layer[] } }).router.stack),
      ...registered((caRoutes(() => []) as unknown as Router & { stack: Layer[] }).stack),
    ].filter(isJsonRoute);
    expect(routes.length).to.be.greaterThan(50);
    const documented = new Set(docPaths(doc));
    expect(routes.filter((r) => !documented.has(r))).to.deep.equal([]);
    // and nothing documented that is not served
    expect([...documented].filter((d) => !routes.includes(d))).to.deep.equal([]);
  });

  it(`ok/every operation has a 2xx answer with a JSON schema (a 204 none) that ajv compiles strictly; bodies are \
closed objects`, () => {
    const ajv = new Ajv({ strict: true, allErrors: true });
    ajv.addFormat("date", /./).addFormat("date-time", /./);
    let n = 0;
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const ok = Object.entries(op.responses).filter(([s]) => /^2\d\d$/.test(s));
        expect(ok, `${method} ${path}`).to.not.be.empty;
        for (const [status, r] of ok) {
          if (status === "204") {
            expect(r.content, `${method} ${path} 204`).to.equal(undefined);
            continue;
          }
          const schema = r.content?.["application/json"]?.schema;
          expect(schema, `${method} ${path} ${status}`).to.be.an("object").that.is.not.empty;
          ajv.compile(schema!);
          n++;
        }
        for (const s of ["400", "401", "403", "404"])
          expect(op.responses[s]?.content, `${method} ${path} ${s}`).to.have.property("application/problem+json");
        const body = (op.requestBody as { content?: Record<string, { schema: Record<string, unknown> }> } | undefined)
          ?.content?.["application/json"]?.schema;
        if (body) {
          expect(body.additionalProperties, `${method} ${path} body`).to.equal(false);
          ajv.compile(body);
        }
      }
    expect(n).to.be.greaterThan(50);
  });

  it(`fail/an answer of the wrong shape is refused by the documented schema; an undocumented status or route \
too`, () => {
    const c = answerChecker(doc);
    expect(() => c.check("GET", "/api/v1/orders/" + "a".repeat(32), 200, { id: 1 })).to.throw(/does not match/);
    expect(() => c.check("GET", "/api/v1/workflows", 200, [{ id: "x" }])).to.throw(/does not match/);
    expect(() => c.check("GET", "/api/v1/nowhere", 200, {})).to.throw(/not in the OpenAPI document/);
    expect(() => c.check("POST", "/api/v1/orders", 299, {})).to.throw(/not documented/);
    expect(() => c.check("DELETE", "/portal/session", 204, undefined)).to.not.throw();
  });

  it("ok/a handler whose answer does not fit its response schema does not compile (checked by tsc)", () => {
    const r = raRoute({
      method: "get",
      path: "/x",
      summary: "x",
      auth: "officer",
      response: ORDER,
      // @ts-expect-error: an order answer without its fields is refused by the compiler
      handle: async () => ({ id: "only-an-id" }),
    });
    expect(r.response).to.equal(ORDER);
  });
});
