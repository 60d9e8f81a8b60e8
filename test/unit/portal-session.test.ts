import { expect } from "chai";
import { MemorySessionStore, PortalSessions } from "../../src/http/portal.routes.js";

describe("http/portal sessions (REQ-22)", () => {
  it(`ok/a session lives while used; fail/it ends after the idle timeout and at the absolute cap; ids and CSRF tokens \
are fresh`, async () => {
    let now = 0;
    const s = new PortalSessions(new MemorySessionStore(), 15 * 60_000, 8 * 3_600_000, () => now);
    const a = await s.open("serial-1");
    const b = await s.open("serial-1");
    expect(a.id).to.not.equal(b.id);
    expect(a.csrf).to.not.equal(a.id);
    expect(a.id).to.have.length.greaterThan(40);
    for (let i = 0; i < 40; i++) {
      now += 14 * 60_000;
      if (now < 8 * 3_600_000) expect(await s.use(a.id), `at ${now / 60_000} min`).to.not.equal(undefined);
    }
    expect(await s.use(a.id), "past the 8-hour cap").to.equal(undefined);
    const c = await s.open("serial-1");
    now += 16 * 60_000;
    expect(await s.use(c.id), "idle for 16 minutes").to.equal(undefined);
    await s.close(b.id);
    expect(await s.use(b.id)).to.equal(undefined);
  });

  it(`ok/the store keeps only hashes; a second process on the same store (the standby after a failover) accepts the \
session and its CSRF token`, async () => {
    const store = new MemorySessionStore();
    const first = new PortalSessions(store);
    const { id, csrf } = await first.open("serial-9");
    const raw = JSON.stringify([...(store as unknown as { m: Map<string, unknown> }).m]);
    expect(raw).to.not.include(id);
    expect(raw).to.not.include(csrf);
    const second = new PortalSessions(store);
    const live = await second.use(id);
    expect(live?.credential).to.equal("serial-9");
    expect(live?.csrfMatches(csrf)).to.equal(true);
    expect(live?.csrfMatches(csrf.slice(1) + "A")).to.equal(false);
  });
});
