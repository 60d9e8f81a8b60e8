import { expect } from "chai";
import { PortalSessions } from "../../src/http/portal.routes.js";
import type { Actor } from "../../src/ra/order.js";

describe("http/portal sessions (issue 8)", () => {
  const actor: Actor = { kind: "officer", personId: "p1", roles: ["ra-officer"] };
  it("ok/a session lives while used; fail/it ends after the idle timeout and at the absolute cap; ids and CSRF tokens are fresh", () => {
    let now = 0;
    const s = new PortalSessions(15 * 60_000, 8 * 3_600_000, () => now);
    const a = s.open(actor, "serial-1");
    const b = s.open(actor, "serial-1");
    expect(a.id).to.not.equal(b.id);
    expect(a.csrf).to.not.equal(a.id);
    expect(a.id).to.have.length.greaterThan(40);
    for (let i = 0; i < 40; i++) {
      now += 14 * 60_000;
      if (now < 8 * 3_600_000) expect(s.use(a.id), `at ${now / 60_000} min`).to.not.equal(undefined);
    }
    expect(s.use(a.id), "past the 8-hour cap").to.equal(undefined);
    const c = s.open(actor, "serial-1");
    now += 16 * 60_000;
    expect(s.use(c.id), "idle for 16 minutes").to.equal(undefined);
    s.close(b.id);
    expect(s.use(b.id)).to.equal(undefined);
  });
});
