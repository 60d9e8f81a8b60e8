import { expect } from "chai";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { loadWorkflows, parseWorkflow, type OrderState } from "../../src/policy/workflow.js";
import { loadRolesPolicy, parseRolesPolicy } from "../../src/policy/roles-policy.js";
import { availableActions, decide } from "../../src/ra/workflow-engine.js";
import type { ActionInput, Actor, Identification, OrderActor, OrderView } from "../../src/ra/order.js";
import { CaError } from "../../src/shared/ca-error.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { refusal } from "../support/refused.js";

const DIR = join(REPO_ROOT, "policies", "workflows");
const WF = loadWorkflows(DIR);
const LOA3 = WF.get("loa3-card-order")!;
const LOA2 = WF.get("loa2-card-order")!;
const NOW = new Date("2026-06-01T10:00:00Z");
const doc = { type: "passport", numberHash: "h:1", expires: new Date("2030-01-01") };
/** An officer: person record `id` of human `human` (one human may have records in several organisations). */
const officer = (id: string, human = `h-${id}`, extra: Partial<Actor> = {}): Actor => ({
  kind: "officer",
  personId: id,
  humanId: human,
  roles: ["ra-officer"],
  organisationId: "org1",
  qualifiedUntil: new Date("2027-01-01"),
  ...extra,
});
const caOp = (id: string, human = `h-${id}`) =>
  officer(id, human, { roles: ["ca-operator"], organisationId: "so", serviceOwnerStaff: true });
const step = (action: string, a: Actor): OrderActor => ({
  action,
  personId: a.personId!,
  humanId: a.humanId!,
  at: NOW,
});
const ident = (a: Actor): Identification => ({
  officerId: a.personId!,
  humanId: a.humanId!,
  at: NOW,
  document: doc,
  faceCompared: true,
});
const order = (state: OrderState, actors: OrderActor[], extra: Partial<OrderView> = {}): OrderView => ({
  id: "o1",
  organisationId: "org1",
  applicantPersonId: "applicant",
  applicantHumanId: "h-applicant",
  state,
  identifications: [],
  registerCheck: { ok: true, at: NOW },
  purpose: "holder",
  profileId: "loa3-smartcard-auth",
  applicantTokenHash: "t1",
  certSerial: "c1",
  approvedAt: NOW,
  actors,
  ...extra,
});
const identifyInput: ActionInput = { document: doc, faceCompared: true };
/** REQ-14: production's input once the card's attestation was verified (the key-attested guard reads this verdict). */
const ATTESTED: ActionInput = { keyOrigin: { ok: true, spki: Uint8Array.of(0x30, 1), evidence: {} } };
const handOutInput: ActionInput = { secondIdentification: { document: doc, faceCompared: true } };

describe("policy/separation (REQ-10: the workflow's separation matrix as data)", () => {
  const base = (f = "loa3-card-order.yaml") => parse(readFileSync(join(DIR, f), "utf8"));
  const drop = (w: any, a: string, b: string) =>
    (w.separation = w.separation.filter(([x, y]: string[]) => !((x === a && y === b) || (x === b && y === a))));
  const broken: [string, string, (w: any) => void, RegExp][] = [
    [
      "a LoA3 matrix that lets an identifier approve",
      "loa3-card-order.yaml",
      (w) => drop(w, "identify", "approve"),
      /must hold \[identify, approve\].*identifier may not approve.*REQ-10/,
    ],
    [
      "a LoA3 matrix that lets an identifier hand out",
      "loa3-card-order.yaml",
      (w) => drop(w, "identify", "hand-out"),
      /must hold \[identify, hand-out\]/,
    ],
    [
      "a LoA3 matrix that lets the approver hand out",
      "loa3-card-order.yaml",
      (w) => drop(w, "approve", "hand-out"),
      /must hold \[approve, hand-out\].*approver may not hand out/,
    ],
    [
      "a LoA3 matrix that lets one human identify twice",
      "loa3-card-order.yaml",
      (w) => drop(w, "identify", "identify"),
      /must hold \[identify, identify\]/,
    ],
    [
      "a LoA2 matrix with which one human takes a renewal from request to ACTIVE",
      "loa2-card-order.yaml",
      (w) => (w.separation = [["identify", "approve"]]),
      /one human could take an order from REQUESTED to ACTIVE alone.*identify-by-eid \(holder\).*REQ-10/,
    ],
    [
      "a LoA2 matrix that lets the producer send the card by mail",
      "loa2-card-order.yaml",
      (w) => drop(w, "produce", "send-by-mail"),
      /one human could take an order from REQUESTED to ACTIVE alone.*produce → send-by-mail/,
    ],
    [
      "a matrix naming an action the workflow does not have",
      "loa2-card-order.yaml",
      (w) => w.separation.push(["identify", "teleport"]),
      /'teleport', which is no officer action/,
    ],
    [
      "a matrix naming an applicant step",
      "loa2-card-order.yaml",
      (w) => w.separation.push(["accept-terms", "identify"]),
      /'accept-terms', which is no officer action/,
    ],
    ["a pair listed twice", "loa2-card-order.yaml", (w) => w.separation.push(["approve", "identify"]), /twice/],
    ["no matrix at all", "loa2-card-order.yaml", (w) => delete w.separation, /separation/],
    [
      "a pair of three",
      "loa2-card-order.yaml",
      (w) => w.separation.push(["identify", "approve", "produce"]),
      /separation/,
    ],
  ];
  for (const [name, file, mutate, re] of broken)
    it(`fail/the loader refuses ${name}`, () => {
      const w = base(file);
      mutate(w);
      expect(() => parseWorkflow(w, file)).to.throw(CaError, re);
    });

  it(`ok/the shipped matrices: LoA3 keeps identifiers, approver, producer and hand-out apart; LoA2 needs at least two \
humans`, () => {
    for (const w of WF.values()) expect(w.separation.length, w.id).to.be.greaterThan(0);
    expect(LOA3.separation).to.deep.include.members([
      ["identify", "identify"],
      ["identify", "approve"],
      ["identify", "hand-out"],
      ["approve", "hand-out"],
      ["identify", "produce"],
    ]);
  });
});

describe("ra/separation-of-duties guard (REQ-10: by humans, from the order's recorded actors)", () => {
  const bo = officer("bo"),
    cy = officer("cy"),
    di = officer("di"),
    fi = officer("fi"),
    ed = caOp("ed");
  const identified = [step("identify", bo), step("identify", cy)];
  const twoIds = { identifications: [ident(bo), ident(cy)] };

  it("ok/the demo's happy path: bo and cy identify, di approves and releases, ed produces, fi hands out", () => {
    const path: [OrderState, string, Actor, ActionInput, OrderActor[], Partial<OrderView>][] = [
      ["TERMS_ACCEPTED", "identify", bo, identifyInput, [], {}],
      ["IDENTIFIED", "identify", cy, identifyInput, [step("identify", bo)], { identifications: [ident(bo)] }],
      ["IDENTIFIED", "approve", di, {}, identified, twoIds],
      ["APPROVED", "start-production", di, {}, [...identified, step("approve", di)], twoIds],
      [
        "IN_PRODUCTION",
        "produce",
        ed,
        ATTESTED,
        [...identified, step("approve", di), step("start-production", di)],
        twoIds,
      ],
      [
        "PRODUCED",
        "hand-out",
        fi,
        handOutInput,
        [...identified, step("approve", di), step("start-production", di), step("produce", ed)],
        twoIds,
      ],
    ];
    expect(
      path.map(
        ([s, a, who, input, actors, extra]) => decide(LOA3, order(s, actors, extra), a, who, input, NOW, "2026-01").to,
      ),
    ).to.deep.equal(["IDENTIFIED", "IDENTIFIED", "APPROVED", "IN_PRODUCTION", "PRODUCED", "HANDED_OUT"]);
  });

  const bypasses: [string, () => unknown, RegExp][] = [
    [
      "an identifier approves",
      () => decide(LOA3, order("IDENTIFIED", identified, twoIds), "approve", cy, {}, NOW, "2026-01"),
      /took 'identify'.*'approve'.*separation \[identify, approve\]/,
    ],
    [
      "an identifier approves with the person record of another organisation",
      () =>
        decide(
          LOA3,
          order("IDENTIFIED", identified, twoIds),
          "approve",
          officer("cy-in-org2", "h-cy", { organisationId: "org1" }),
          {},
          NOW,
          "2026-01",
        ),
      /separation \[identify, approve\]/,
    ],
    [
      "the approver hands out",
      () =>
        decide(
          LOA3,
          order("PRODUCED", [...identified, step("approve", di), step("produce", ed)], twoIds),
          "hand-out",
          di,
          handOutInput,
          NOW,
          "2026-01",
        ),
      /separation \[approve, hand-out\]/,
    ],
    [
      "the producer identifies",
      () =>
        decide(
          LOA3,
          order("IDENTIFIED", [step("identify", bo), step("produce", caOp("ed2", "h-x"))], {
            identifications: [ident(bo)],
          }),
          "identify",
          officer("x", "h-x"),
          identifyInput,
          NOW,
          "2026-01",
        ),
      /separation \[produce, identify\]/,
    ],
    [
      "an identifier releases to production",
      () =>
        decide(
          LOA3,
          order("APPROVED", [...identified, step("approve", di)], twoIds),
          "start-production",
          bo,
          {},
          NOW,
          "2026-01",
        ),
      /separation \[identify, start-production\]/,
    ],
    [
      "LoA2: the identifier produces (one officer holding ra-officer and ca-operator)",
      () =>
        decide(
          LOA2,
          order("IN_PRODUCTION", [step("identify", bo), step("approve", di)]),
          "produce",
          officer("bo", "h-bo", { roles: ["ra-officer", "ca-operator"] }),
          ATTESTED,
          NOW,
          "2026-01",
        ),
      /separation \[identify, produce\]/,
    ],
    [
      "an officer whose human is unknown",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED", []),
          "identify",
          { ...bo, humanId: undefined } as Actor,
          identifyInput,
          NOW,
          "2026-01",
        ),
      /identity as a human.*not known/,
    ],
  ];
  for (const [name, f, re] of bypasses)
    it(`fail/${name} is refused by separation-of-duties (REQ-10)`, () => {
      const e = refusal(f);
      expect([e.kind, e.details?.guard, e.details?.rule, e.details?.requirement]).to.deep.equal([
        "policy-violation",
        "separation-of-duties",
        "separation-of-duties",
        "REQ-10",
      ]);
      expect(e.message).to.match(re);
    });

  it(`fail/the same human under two person records: distinct-identifiers, not-an-identifier and not-own-order compare \
humans`, () => {
    const bo2 = officer("bo-in-org2", "h-bo");
    expect(
      refusal(() =>
        decide(
          LOA3,
          order("IDENTIFIED", [], { identifications: [ident(bo)] }),
          "identify",
          bo2,
          identifyInput,
          NOW,
          "2026-01",
        ),
      ).details?.guard,
    ).to.equal("distinct-identifiers");
    expect(
      refusal(() => decide(LOA3, order("PRODUCED", [], twoIds), "hand-out", bo2, handOutInput, NOW, "2026-01")).details
        ?.guard,
    ).to.equal("not-an-identifier");
    expect(
      refusal(() =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED", [], { applicantHumanId: "h-bo" }),
          "identify",
          bo2,
          identifyInput,
          NOW,
          "2026-01",
        ),
      ).details?.guard,
    ).to.equal("not-own-order");
    // Two records of one human count once towards the identifications.
    const once = { identifications: [ident(bo), { ...ident(bo2) }] };
    expect(
      refusal(() => decide(LOA3, order("IDENTIFIED", [], once), "approve", di, {}, NOW, "2026-01")).details?.guard,
    ).to.equal("identifications-complete");
  });

  it("ok/the portal offers no step the matrix forbids", () => {
    expect(availableActions(LOA3, order("IDENTIFIED", identified, twoIds), cy, NOW).map((a) => a.action)).to.deep.equal(
      ["reject"],
    ); // an identifier: no approval, no third identification
    expect(availableActions(LOA3, order("IDENTIFIED", identified, twoIds), di, NOW).map((a) => a.action)).to.deep.equal(
      ["identify", "approve", "reject"],
    );
  });
});

describe("policy/roles (REQ-24: grant rules and incompatible roles as data)", () => {
  const FILE = join(REPO_ROOT, "policies", "roles.yaml");
  const base = () => parse(readFileSync(FILE, "utf8"));
  it("ok/loads policies/roles.yaml", () => {
    const p = loadRolesPolicy(FILE);
    expect(p.roles["ca-operator"]).to.deep.equal({
      grantedBy: ["service-owner-staff"],
      approval: "second-staff-officer",
    });
    expect(p.roles["ra-officer"].grantedBy).to.include("ra-admin");
    expect(p.incompatible).to.deep.include(["ca-operator", "ra-officer"]);
  });
  const broken: [string, (p: any) => void, RegExp][] = [
    [
      "an ra-admin granting ca-operator",
      (p) => p.roles["ca-operator"].grantedBy.push("ra-admin"),
      /ca-operator may be granted by service-owner staff only/,
    ],
    [
      "auditor without a second approval",
      (p) => (p.roles.auditor.approval = "none"),
      /auditor needs a second staff officer's approval/,
    ],
    [
      "service-owner-staff without a second approval",
      (p) => (p.roles["service-owner-staff"].approval = "none"),
      /service-owner-staff needs a second/,
    ],
    [
      "ca-operator compatible with ra-officer",
      (p) =>
        (p.incompatible = p.incompatible.filter(([a, b]: string[]) => !(a === "ca-operator" && b === "ra-officer"))),
      /ca-operator and ra-officer must be incompatible/,
    ],
    ["a role incompatible with itself", (p) => p.incompatible.push(["auditor", "auditor"]), /names one role twice/],
    ["an unknown role", (p) => (p.roles.superuser = { grantedBy: ["ra-admin"], approval: "none" }), /superuser/],
    ["a missing role", (p) => delete p.roles["ra-admin"], /ra-admin/],
    ["an unknown key", (p) => (p.everyoneIsAdmin = true), /everyoneIsAdmin/],
  ];
  for (const [name, mutate, re] of broken)
    it(`fail/the loader refuses a roles policy with ${name}`, () => {
      const p = base();
      mutate(p);
      expect(() => parseRolesPolicy(p, "roles.yaml")).to.throw(CaError, re);
    });
});
