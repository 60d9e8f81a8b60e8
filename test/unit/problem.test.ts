import { expect } from "chai";
import express from "express";
import type { AddressInfo } from "node:net";
import { errorHandler } from "../../src/http/problem.js";
import { CaError } from "../../src/shared/ca-error.js";

describe("http/problem: 5xx bodies carry no internal detail", () => {
  const internals =
    "SELECT secret FROM people WHERE national_id_hash = 'ab12' " +
    "(/var/lib/cardpki/data/cardpki.db, CKR_DEVICE_ERROR slot 3)";
  const rows: [string, () => never, number, string][] = [
    [
      "a plain Error",
      () => {
        throw new Error(internals);
      },
      500,
      "internal",
    ],
    [
      "CaError internal",
      () => {
        throw new CaError("internal", internals);
      },
      500,
      "internal",
    ],
    [
      "CaError hsm-unavailable",
      () => {
        throw new CaError("hsm-unavailable", internals);
      },
      503,
      "hsm-unavailable",
    ],
    [
      "CaError unavailable",
      () => {
        throw new CaError("unavailable", internals);
      },
      503,
      "unavailable",
    ],
    [
      "CaError config",
      () => {
        throw new CaError("config", internals);
      },
      500,
      "config",
    ],
  ];
  for (const [name, thrower, status, kind] of rows)
    it(`ok/${name} → ${status} problem+json with the kind and an incident id only; the message is not in the \
body`, async () => {
      const app = express();
      app.get("/x", () => thrower());
      app.use(errorHandler);
      const server = app.listen(0, "127.0.0.1");
      await new Promise((r) => server.once("listening", r));
      try {
        const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
        const text = await res.text();
        expect(res.status).to.equal(status);
        expect(res.headers.get("content-type")).to.equal("application/problem+json");
        const body = JSON.parse(text);
        expect(body.type).to.equal(`urn:cardpki:problem:${kind}`);
        expect(body.incident).to.match(/^[0-9a-f-]{36}$/);
        expect(body.detail).to.be.a("string").and.not.equal(""); // the kind in words (en by default)
        expect(body.code).to.equal(kind);
        for (const leak of ["SELECT", "national_id", "/var/lib", "CKR_", "slot 3"])
          expect(text, leak).to.not.include(leak);
      } finally {
        server.close();
      }
    });

  it(`ok/4xx keep the rule, guard and REQ machine-readable; the words come from the code, not the \
message`, async () => {
    const app = express();
    app.get("/x", () => {
      throw new CaError(
        "forbidden",
        "refused (rule r, REQ-22)",
        { rule: "r", requirement: "REQ-22", secret: "no" },
        { code: "scope.other-organisation" },
      );
    });
    app.use(errorHandler);
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      const body = (await (
        await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`)
      ).json()) as Record<string, unknown>;
      expect(body).to.deep.include({
        status: 403,
        detail: "This belongs to another organisation; you may act only for your own.",
        code: "scope.other-organisation",
        rule: "r",
        requirement: "REQ-22",
        req: "REQ-22",
      });
      expect(body).to.not.have.property("secret");
    } finally {
      server.close();
    }
  });
});
