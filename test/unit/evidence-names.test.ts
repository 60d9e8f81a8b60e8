import { expect } from "chai";
import { namedReport } from "../../src/composition/evidence-names.js";
import type { ConformanceReport } from "../../src/audit/report.js";
import type { Person } from "../../src/ra/directory.js";

const OFFICER = "3a961993a369e1b32a77d926079dbaee";
const people = [{ id: OFFICER, organisationId: "org-a", name: "Cy Officer" }] as unknown as Person[];
const report = (actors: string[]) =>
  ({
    officerActivity: actors.map((actor) => ({ actor, action: "order.identify", outcome: "success", n: 1 })),
    violations: [],
  }) as unknown as ConformanceReport;

describe("evidence names: the conformance report as a person reads it (REQ-27)", () => {
  it("ok/an officer by name and label for a reader of their organisation, by label only for another", () => {
    const [mine] = namedReport(report([`officer:${OFFICER}`]), people, (o) => o === "org-a").officerActivity;
    expect(mine!.actor).to.equal(`Cy Officer (${mine!.actorLabel})`);
    const [other] = namedReport(report([`officer:${OFFICER}`]), people, () => false).officerActivity;
    expect(other!.actor).to.equal(other!.actorLabel);
    expect(other!.actorName).to.equal(undefined);
  });

  it(`fail/an actor whose id names no person (officer:test, a holder of another system) still reads as a label, never \
officer:<id>`, () => {
    const rows = namedReport(
      report(["officer:test", "holder:x-1", "system:expiry"]),
      people,
      () => true,
    ).officerActivity;
    expect(rows.map((r) => r.actor)).to.deep.equal([rows[0]!.actorLabel, rows[1]!.actorLabel, "system:expiry"]);
    for (const r of rows.slice(0, 2)) expect(r.actorLabel).to.match(/^[0-9A-Z]{3}-[0-9A-Z]{3}$/);
    expect(rows.map((r) => r.actorId)).to.deep.equal(["officer:test", "holder:x-1", "system:expiry"]);
  });
});
