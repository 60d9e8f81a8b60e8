import { expect } from "chai";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { loadWorkflows, parseWorkflow, type OrderState } from "../../src/policy/workflow.js";
import { availableActions, decide } from "../../src/ra/workflow-engine.js";
import type { ActionInput, Actor, Identification, OrderView } from "../../src/ra/order.js";
import { CaError } from "../../src/shared/ca-error.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { refusal } from "../support/refused.js";

const DIR = join(REPO_ROOT, "policies", "workflows");
const WF = loadWorkflows(DIR);
const LOA3 = WF.get("loa3-card-order")!;
const LOA2 = WF.get("loa2-card-order")!;
const KBA = WF.get("loa2-card-order-kba")!;
const NOW = new Date("2026-06-01T10:00:00Z");
const TERMS = "2026-01";
const doc = (type = "passport", expires = "2030-01-01") => ({ type, numberHash: "h:1", expires: new Date(expires) });
const officer = (id: string, extra: Partial<Actor> = {}): Actor => ({
  kind: "officer",
  personId: id,
  humanId: `human-${id}`,
  roles: ["ra-officer"],
  organisationId: "org1",
  qualifiedUntil: new Date("2027-01-01"),
  ...extra,
});
const ident = (officerId: string): Identification => ({ officerId, at: NOW, document: doc(), faceCompared: true });
const order = (state: OrderState, extra: Partial<OrderView> = {}): OrderView => ({
  id: "o1",
  organisationId: "org1",
  applicantPersonId: "applicant",
  state,
  identifications: [],
  registerCheck: { ok: true, at: NOW },
  purpose: "holder",
  profileId: "loa3-smartcard-auth",
  applicantTokenHash: "t1",
  certSerial: "c1",
  approvedAt: new Date("2026-05-25T10:00:00Z"),
  ...extra,
});
const identifyInput: ActionInput = { document: doc(), faceCompared: true };
const applicant: Actor = { kind: "applicant", roles: [] };
const holder: Actor = { kind: "holder", personId: "applicant", roles: [], credentialSerial: "c1", loa: 3 };
/**
 * REQ-16: what a LoA3 activation proved (the order service establishes it from the signature and the station's record).
 */
const activated = (pinAt = NOW): ActionInput => ({
  activation: { challengeSigned: true, pinReplaced: { at: pinAt, recordedBy: "officer:station" } },
});
const terms = (termsVersion = TERMS, extra: Partial<ActionInput> = {}): ActionInput => ({
  termsVersion,
  accepted: true,
  applicantTokenHash: "t1",
  ...extra,
});
const staffCaOp = officer("op", { roles: ["ca-operator"], organisationId: "so", serviceOwnerStaff: true });
/** What the order service hands the engine for a key the card attested (REQ-14). */
const ATTESTED: ActionInput = { keyOrigin: { ok: true, spki: Uint8Array.of(0x30, 1), evidence: {} } };

describe("policy/workflow (LoA workflows as data)", () => {
  it("ok/loads the LoA2 and LoA3 workflows", () => {
    expect(LOA3.loa).to.equal(3);
    expect(LOA3.identifications).to.equal(2);
    expect(LOA2.identifications).to.equal(1);
  });
  const base = () => parse(readFileSync(join(DIR, "loa3-card-order.yaml"), "utf8"));
  const broken: [string, (w: any) => void, RegExp][] = [
    [
      "LoA3 identify without distinct-identifiers",
      (w) => (w.transitions[1].guards = w.transitions[1].guards.filter((g: string) => g !== "distinct-identifiers")),
      /distinct-identifiers/,
    ],
    [
      "hand-out by an identifier allowed",
      (w) => (w.transitions[6].guards = w.transitions[6].guards.filter((g: string) => g !== "not-an-identifier")),
      /not-an-identifier/,
    ],
    [
      "a shortcut from IDENTIFIED to IN_PRODUCTION",
      (w) =>
        w.transitions.push({
          action: "rush",
          from: ["IDENTIFIED"],
          to: "IN_PRODUCTION",
          by: "officer",
          roles: ["ra-officer"],
          guards: ["not-own-order", "same-organisation"],
        }),
      /skips APPROVED/,
    ],
    [
      "hand-out skipped",
      (w) =>
        w.transitions.push({
          action: "auto",
          from: ["PRODUCED"],
          to: "ACTIVE",
          by: "system",
          guards: ["within-activation-deadline"],
        }),
      /skips HANDED_OUT/,
    ],
    [
      "an officer action that forgets not-own-order",
      (w) => (w.transitions[4].guards = ["same-organisation"]),
      /not-own-order/,
    ],
    [
      "approve without identifications-complete",
      (w) => (w.transitions[3].guards = ["officer-qualified", "not-own-order", "same-organisation"]),
      /identifications-complete/,
    ],
    ["LoA3 with one identification", (w) => (w.identifications = 1), /two identifications/],
    [
      "an applicant action without the applicant's token",
      (w) => (w.transitions[0].guards = ["terms-version-current"]),
      /applicant-token/,
    ],
    [
      "a renewal identification without the register check",
      (w) => (w.transitions[2].guards = ["existing-eid-valid"]),
      /register-checked/,
    ],
    [
      "activation without the card of the order",
      (w) => (w.transitions[7].guards = ["within-activation-deadline"]),
      /card-of-this-order/,
    ],
    [
      "production without the key attestation check",
      (w) => (w.transitions[5].guards = ["not-own-order", "same-organisation", "approval-current"]),
      /key-attested/,
    ],
    [
      "LoA3 accepting keys from the card station without attestation",
      (w) => (w.attestation.cardStationFallback = true),
      /cardStationFallback is LoA2 only.*REQ-14/,
    ],
    ["no attestation policy", (w) => delete w.attestation, /attestation/],
    ["an attestation policy without roots", (w) => (w.attestation.roots = []), /attestation\/roots/],
    [
      "production that ignores the age of the approval",
      (w) => (w.transitions[5].guards = ["not-own-order", "same-organisation", "key-attested"]),
      /approval-current/,
    ],
    [
      "start-production that ignores the age of the approval",
      (w) => (w.transitions[4].guards = ["not-own-order", "same-organisation"]),
      /approval-current/,
    ],
    ["no approvalValidDays", (w) => delete w.approvalValidDays, /approvalValidDays/],
    [
      "LoA3 identify without the lost/stolen document check",
      (w) => (w.transitions[1].guards = w.transitions[1].guards.filter((g: string) => g !== "document-not-reported")),
      /document-not-reported/,
    ],
    [
      "production that issues the certificate good instead of on hold",
      (w) => delete w.transitions[5].effects,
      /issue-certificate-on-hold.*REQ-16/,
    ],
    ["activation that does not release the hold", (w) => delete w.transitions[7].effects, /release-certificate/],
    [
      "a way back from PRODUCED that keeps the certificate valid",
      (w) => {
        const t = w.transitions.find((x: any) => x.action === "production-failed");
        delete t.effects;
        delete t.revocationReason;
      },
      /production-failed' leaves a state with a certificate .* revoke-certificate/,
    ],
    ["no deadline for PRODUCED", (w) => delete w.deadlines.PRODUCED, /deadlines.*PRODUCED/],
    [
      "a deadline with no expiry out of PRODUCED",
      (w) => (w.transitions.find((x: any) => x.action === "expire").from = ["IN_PRODUCTION", "HANDED_OUT"]),
      /no expiry .* out of PRODUCED/,
    ],
    [
      "LoA3 activation without the card's challenge signature",
      (w) =>
        (w.transitions[7].guards = w.transitions[7].guards.filter((g: string) => g !== "activation-challenge-signed")),
      /activation-challenge-signed.*REQ-16/,
    ],
    [
      "LoA3 activation without the transport PIN replacement",
      (w) => (w.transitions[7].guards = w.transitions[7].guards.filter((g: string) => g !== "transport-pin-replaced")),
      /transport-pin-replaced.*REQ-16/,
    ],
    [
      "LoA3 hand-out without the lost/stolen document check",
      (w) => (w.transitions[6].guards = w.transitions[6].guards.filter((g: string) => g !== "document-not-reported")),
      /document-not-reported/,
    ],
    [
      "knowledge-score but no questions",
      (w) => w.transitions[1].guards.push("knowledge-score"),
      /no knowledgeQuestions/,
    ],
    [
      "questions that no identification checks",
      (w) => (w.knowledgeQuestions = { passScore: 1, questions: [{ id: "q", text: "?", weight: 1 }] }),
      /no identification checks knowledge-score/,
    ],
    [
      "a pass score above all weights",
      (w) => {
        w.transitions[1].guards.push("knowledge-score");
        w.knowledgeQuestions = {
          passScore: 4,
          questions: [
            { id: "a", text: "?", weight: 1 },
            { id: "b", text: "?", weight: 2 },
          ],
        };
      },
      /passScore 4 is more than/,
    ],
    [
      "the same question twice",
      (w) => {
        w.transitions[1].guards.push("knowledge-score");
        w.knowledgeQuestions = {
          passScore: 1,
          questions: [
            { id: "a", text: "?", weight: 1 },
            { id: "a", text: "!", weight: 2 },
          ],
        };
      },
      /unique/,
    ],
    [
      "LoA3 cards leaving production with a random PIN instead of a transport PIN",
      (w) => (w.card.pin = "random"),
      /transport PIN.*REQ-16/,
    ],
    ["a card block with an unknown algorithm", (w) => (w.card.algorithm = "P-192"), /card\/algorithm/],
    ["an unknown guard", (w) => w.transitions[0].guards.push("trust-me"), /guards/],
    ["an unknown key", (w) => (w.shortcut = true), /shortcut/],
    [
      "the card handed out without saying how it travels",
      (w) => delete w.transitions[6].card,
      /must say how the card travels.*REQ-15/,
    ],
    [
      "the card by mail and the PIN by mail too",
      (w) => ((w.transitions[6].card = "mail"), (w.delivery.pin = "mail")),
      /card by mail and the PIN by mail too.*REQ-15/,
    ],
    [
      "the card by mail and the activation code by mail too",
      (w) => ((w.transitions[6].card = "mail"), (w.delivery.activationCode = "mail")),
      /activation code by mail too.*REQ-15/,
    ],
    ["no delivery channels", (w) => delete w.delivery, /delivery/],
    [
      "a card channel on a transition that does not hand out",
      (w) => (w.transitions[3].card = "in-person"),
      /does not hand the card out/,
    ],
  ];
  for (const [name, mutate, re] of broken)
    it(`fail/the engine refuses to load a workflow with ${name}`, () => {
      const w = base();
      mutate(w);
      expect(() => parseWorkflow(w, "t.yaml")).to.throw(CaError, re);
    });
});

describe("ra/workflow-engine (REQ-03/04/09/10/15/25)", () => {
  it(`ok/the LoA3 path: terms, two different officers, approval, production, a third officer hands out, \
activation`, () => {
    const steps: [OrderState, string, Actor, ActionInput, Partial<OrderView>][] = [
      ["REQUESTED", "accept-terms", applicant, terms(), {}],
      ["TERMS_ACCEPTED", "identify", officer("o1"), identifyInput, {}],
      ["IDENTIFIED", "identify", officer("o2"), identifyInput, { identifications: [ident("o1")] }],
      ["IDENTIFIED", "approve", officer("o2"), {}, { identifications: [ident("o1"), ident("o2")] }],
      ["APPROVED", "start-production", officer("o1"), {}, {}],
      [
        "IN_PRODUCTION",
        "produce",
        staffCaOp,
        { keyOrigin: { ok: true, spki: Uint8Array.of(0x30, 1), evidence: {} } },
        {},
      ],
      [
        "PRODUCED",
        "hand-out",
        officer("o3"),
        { secondIdentification: { document: doc("national-id-card"), faceCompared: true } },
        { identifications: [ident("o1"), ident("o2")] },
      ],
      ["HANDED_OUT", "activate", holder, activated(), { handedOutAt: NOW }],
    ];
    const path = steps.map(
      ([state, action, actor, input, extra]) => decide(LOA3, order(state, extra), action, actor, input, NOW, TERMS).to,
    );
    expect(path).to.deep.equal([
      "TERMS_ACCEPTED",
      "IDENTIFIED",
      "IDENTIFIED",
      "APPROVED",
      "IN_PRODUCTION",
      "PRODUCED",
      "HANDED_OUT",
      "ACTIVE",
    ]);
  });

  const attempts: [string, () => unknown, string, RegExp][] = [
    [
      "the same officer identifies twice",
      () =>
        decide(
          LOA3,
          order("IDENTIFIED", { identifications: [ident("o1")] }),
          "identify",
          officer("o1"),
          identifyInput,
          NOW,
          TERMS,
        ),
      "distinct-identifiers",
      /already identified/,
    ],
    [
      "approval after one identification",
      () =>
        decide(LOA3, order("IDENTIFIED", { identifications: [ident("o1")] }), "approve", officer("o2"), {}, NOW, TERMS),
      "identifications-complete",
      /2 identifications/,
    ],
    [
      "an identifier hands out",
      () =>
        decide(
          LOA3,
          order("PRODUCED", { identifications: [ident("o1"), ident("o2")] }),
          "hand-out",
          officer("o2"),
          { secondIdentification: { document: doc(), faceCompared: true } },
          NOW,
          TERMS,
        ),
      "not-an-identifier",
      /may not hand out/,
    ],
    [
      "hand-out without a second identification",
      () =>
        decide(
          LOA3,
          order("PRODUCED", { identifications: [ident("o1"), ident("o2")] }),
          "hand-out",
          officer("o3"),
          {},
          NOW,
          TERMS,
        ),
      "second-identification",
      /identify again/,
    ],
    [
      "an officer acts on their own order",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED", { applicantPersonId: "o1" }),
          "identify",
          officer("o1"),
          identifyInput,
          NOW,
          TERMS,
        ),
      "not-own-order",
      /for themself/,
    ],
    [
      "an expired qualification",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED"),
          "identify",
          officer("o1", { qualifiedUntil: new Date("2026-01-01") }),
          identifyInput,
          NOW,
          TERMS,
        ),
      "officer-qualified",
      /qualification/,
    ],
    [
      "an officer of another organisation",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED"),
          "identify",
          officer("o9", { organisationId: "org2" }),
          identifyInput,
          NOW,
          TERMS,
        ),
      "same-organisation",
      /another organisation/,
    ],
    [
      "an expired document",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED"),
          "identify",
          officer("o1"),
          { document: doc("passport", "2026-05-01"), faceCompared: true },
          NOW,
          TERMS,
        ),
      "document-not-expired",
      /expired/,
    ],
    [
      "a document type not on the policy list",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED"),
          "identify",
          officer("o1"),
          { document: doc("library-card"), faceCompared: true },
          NOW,
          TERMS,
        ),
      "document-accepted",
      /not accepted/,
    ],
    [
      "no face comparison at LoA3",
      () => decide(LOA3, order("TERMS_ACCEPTED"), "identify", officer("o1"), { document: doc() }, NOW, TERMS),
      "face-compared",
      /face/,
    ],
    [
      "no register check",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED", { registerCheck: { ok: false, at: NOW } }),
          "identify",
          officer("o1"),
          identifyInput,
          NOW,
          TERMS,
        ),
      "register-checked",
      /register/,
    ],
    [
      "old terms",
      () => decide(LOA3, order("REQUESTED"), "accept-terms", applicant, terms("2025-01"), NOW, TERMS),
      "terms-version-current",
      /current terms/,
    ],
    [
      "pre-ticked terms (accepted missing)",
      () =>
        decide(
          LOA3,
          order("REQUESTED"),
          "accept-terms",
          applicant,
          { termsVersion: TERMS, applicantTokenHash: "t1" },
          NOW,
          TERMS,
        ),
      "terms-version-current",
      /actively accept/,
    ],
    [
      "terms accepted without the applicant's token",
      () =>
        decide(
          LOA3,
          order("REQUESTED"),
          "accept-terms",
          applicant,
          terms(TERMS, { applicantTokenHash: "guess" }),
          NOW,
          TERMS,
        ),
      "applicant-token",
      /token/,
    ],
    [
      "activation after the deadline",
      () =>
        decide(LOA3, order("HANDED_OUT", { handedOutAt: new Date("2026-04-01") }), "activate", holder, {}, NOW, TERMS),
      "within-activation-deadline",
      /deadline/,
    ],
    [
      "activation with another card",
      () =>
        decide(
          LOA3,
          order("HANDED_OUT", { handedOutAt: NOW }),
          "activate",
          { ...holder, credentialSerial: "other" },
          {},
          NOW,
          TERMS,
        ),
      "card-of-this-order",
      /card of this order/,
    ],
    [
      "LoA3 activation without the card's signature over the challenge",
      () =>
        decide(
          LOA3,
          order("HANDED_OUT", { handedOutAt: NOW }),
          "activate",
          holder,
          {
            activation: {
              challengeSigned: false,
              refusal: "the challenge signature does not verify with the key of this order's certificate",
            },
          },
          NOW,
          TERMS,
        ),
      "activation-challenge-signed",
      /does not verify/,
    ],
    [
      "LoA3 activation while the card station recorded no transport PIN replacement",
      () =>
        decide(
          LOA3,
          order("HANDED_OUT", { handedOutAt: NOW }),
          "activate",
          holder,
          { activation: { challengeSigned: true } },
          NOW,
          TERMS,
        ),
      "transport-pin-replaced",
      /has not recorded/,
    ],
    [
      "LoA3 activation with a PIN replacement recorded before the hand-out",
      () =>
        decide(
          LOA3,
          order("HANDED_OUT", { handedOutAt: NOW }),
          "activate",
          holder,
          activated(new Date("2026-05-01")),
          NOW,
          TERMS,
        ),
      "transport-pin-replaced",
      /after the hand-out/,
    ],
    [
      "expiry of a produced card before the PRODUCED deadline",
      () =>
        decide(
          LOA3,
          order("PRODUCED", { stateSince: new Date("2026-05-20") }),
          "expire",
          { kind: "system", roles: [] },
          {},
          NOW,
          TERMS,
        ),
      "state-deadline-passed",
      /PRODUCED deadline/,
    ],
    [
      "LoA2 activation with a wrong code",
      () =>
        decide(
          LOA2,
          order("HANDED_OUT", { handedOutAt: NOW, activationCodeHash: "right" }),
          "activate",
          holder,
          { activationCodeHash: "wrong" },
          NOW,
          TERMS,
        ),
      "activation-code-correct",
      /activation code/,
    ],
    [
      "production without the card's attestation",
      () => decide(LOA3, order("IN_PRODUCTION"), "produce", staffCaOp, {}, NOW, TERMS),
      "key-attested",
      /PIV attestation/,
    ],
    [
      "production with a refused key origin",
      () =>
        decide(
          LOA3,
          order("IN_PRODUCTION"),
          "produce",
          staffCaOp,
          { publicKey: Uint8Array.of(0x30, 1), keyOrigin: { ok: false, reason: "a bare public key is not certified" } },
          NOW,
          TERMS,
        ),
      "key-attested",
      /bare public key is not certified/,
    ],
    [
      "start-production on an approval older than approvalValidDays",
      () =>
        decide(
          LOA3,
          order("APPROVED", { approvedAt: new Date("2026-04-30T09:59:59Z") }),
          "start-production",
          officer("o1"),
          {},
          NOW,
          TERMS,
        ),
      "approval-current",
      /older than 30 days.*identified and approved again/,
    ],
    [
      "production on an approval that aged out while in production",
      () =>
        decide(
          LOA3,
          order("IN_PRODUCTION", { approvedAt: new Date("2026-04-01T00:00:00Z") }),
          "produce",
          staffCaOp,
          ATTESTED,
          NOW,
          TERMS,
        ),
      "approval-current",
      /older than 30 days/,
    ],
    [
      "production of an order with no recorded approval",
      () => decide(LOA2, order("IN_PRODUCTION", { approvedAt: undefined }), "produce", staffCaOp, ATTESTED, NOW, TERMS),
      "approval-current",
      /no recorded approval/,
    ],
    [
      "renewal on a LoA2 eID for a LoA3 card",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED", { renewalOf: "c0" }),
          "identify-by-eid",
          { ...holder, credentialSerial: "c0", loa: 2 },
          {},
          NOW,
          TERMS,
        ),
      "existing-eid-valid",
      /LoA3/,
    ],
    [
      "renewal with someone else's eID",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED", { renewalOf: "c0" }),
          "identify-by-eid",
          { ...holder, credentialSerial: "c0", personId: "mallory" },
          {},
          NOW,
          TERMS,
        ),
      "existing-eid-valid",
      /someone else/,
    ],
    [
      "a document reported stolen",
      () =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED"),
          "identify",
          officer("o1"),
          {
            ...identifyInput,
            documentRegister: { source: "police", reported: [{ document: "identity document", reason: "stolen" }] },
          },
          NOW,
          TERMS,
        ),
      "document-not-reported",
      /reported stolen in police/,
    ],
    [
      "a hand-out document reported lost",
      () =>
        decide(
          LOA3,
          order("PRODUCED", { identifications: [ident("o1"), ident("o2")] }),
          "hand-out",
          officer("o3"),
          {
            secondIdentification: { document: doc(), faceCompared: true },
            documentRegister: {
              source: "police",
              reported: [{ document: "hand-out identity document", reason: "lost" }],
            },
          },
          NOW,
          TERMS,
        ),
      "document-not-reported",
      /hand-out identity document is reported lost/,
    ],
    [
      "control questions below the pass score",
      () =>
        decide(
          KBA,
          order("TERMS_ACCEPTED"),
          "identify",
          officer("o1"),
          { document: doc(), knowledgeAnswers: { "postal-address": true, "birth-place": false } },
          NOW,
          TERMS,
        ),
      "knowledge-score",
      /scored 3, 5 are needed/,
    ],
    [
      "control questions not asked at all",
      () => decide(KBA, order("TERMS_ACCEPTED"), "identify", officer("o1"), { document: doc() }, NOW, TERMS),
      "knowledge-score",
      /scored 0/,
    ],
    [
      "an answer to a question the policy does not have",
      () =>
        decide(
          KBA,
          order("TERMS_ACCEPTED"),
          "identify",
          officer("o1"),
          { document: doc(), knowledgeAnswers: { "postal-address": true, "birth-place": true, "shoe-size": true } },
          NOW,
          TERMS,
        ),
      "knowledge-score",
      /unknown control question.*shoe-size/,
    ],
    [
      "LoA2 card and code by the same channel",
      () =>
        decide(
          LOA2,
          order("PRODUCED", { identifications: [ident("o1")] }),
          "send-by-mail",
          officer("o2"),
          { cardChannel: "mail", activationCodeChannel: "mail" },
          NOW,
          TERMS,
        ),
      "activation-code-separate-channel",
      /another channel/,
    ],
  ];
  for (const [name, f, guard, re] of attempts)
    it(`fail/${name} is refused by ${guard}`, () => {
      const e = refusal(f);
      expect(e.kind).to.equal("policy-violation");
      expect(e.details?.guard).to.equal(guard);
      expect(e.message).to.match(re);
    });

  it("fail/wrong state, wrong kind of actor, missing role, unknown action", () => {
    expect(refusal(() => decide(LOA3, order("REQUESTED"), "approve", officer("o1"), {}, NOW, TERMS)).kind).to.equal(
      "conflict",
    );
    expect(
      refusal(() => decide(LOA3, order("REQUESTED"), "accept-terms", officer("o1"), terms(), NOW, TERMS)).kind,
    ).to.equal("forbidden");
    expect(
      refusal(() =>
        decide(
          LOA3,
          order("TERMS_ACCEPTED"),
          "identify",
          officer("o1", { roles: ["auditor"] }),
          identifyInput,
          NOW,
          TERMS,
        ),
      ).message,
    ).to.match(/role ra-officer/);
    expect(refusal(() => decide(LOA3, order("REQUESTED"), "teleport", officer("o1"), {}, NOW, TERMS)).kind).to.equal(
      "invalid-input",
    );
  });

  it(`ok/control questions: right answers whose weights reach the pass score (REQ-08); a clean register answer passes \
(REQ-05)`, () => {
    const input: ActionInput = {
      document: doc(),
      knowledgeAnswers: { "postal-address": true, "birth-place": true, "previous-employer": false },
      documentRegister: { source: "police", reported: [] },
    };
    expect(decide(KBA, order("TERMS_ACCEPTED"), "identify", officer("o1"), input, NOW, TERMS).to).to.equal(
      "IDENTIFIED",
    );
    expect(
      decide(
        LOA3,
        order("TERMS_ACCEPTED"),
        "identify",
        officer("o1"),
        { ...identifyInput, documentRegister: { source: "police", reported: [] } },
        NOW,
        TERMS,
      ).to,
    ).to.equal("IDENTIFIED");
  });

  it(`ok/the steps an officer is offered: never the hand-out to an identifier, never a second identification by the \
same officer, production only to a ca-operator`, () => {
    const two = order("PRODUCED", { identifications: [ident("o1"), ident("o2")] });
    expect(availableActions(LOA3, two, officer("o1"), NOW).map((a) => a.action)).to.deep.equal([]);
    expect(availableActions(LOA3, two, officer("o3"), NOW)).to.deep.equal([
      { action: "hand-out", to: "HANDED_OUT", needs: ["second-identification", "document-not-reported"] },
    ]);
    expect(
      availableActions(LOA3, order("IDENTIFIED", { identifications: [ident("o1")] }), officer("o1"), NOW).map(
        (a) => a.action,
      ),
    ).to.deep.equal(["reject"]);
    expect(
      availableActions(LOA3, order("IDENTIFIED", { identifications: [ident("o1")] }), officer("o2"), NOW).map(
        (a) => a.action,
      ),
    ).to.deep.equal(["identify", "reject"]);
    expect(availableActions(LOA3, order("IN_PRODUCTION"), officer("o1"), NOW)).to.deep.equal([]);
    expect(availableActions(LOA3, order("IN_PRODUCTION"), staffCaOp, NOW).map((a) => a.action)).to.deep.equal([
      "produce",
    ]);
    expect(
      availableActions(LOA3, order("APPROVED", { approvedAt: new Date("2026-04-01") }), officer("o1"), NOW).map(
        (a) => a.action,
      ),
      "an aged approval offers no production",
    ).to.deep.equal(["reject"]);
    expect(
      availableActions(
        LOA3,
        order("TERMS_ACCEPTED"),
        officer("o1", { qualifiedUntil: new Date("2026-01-01") }),
        NOW,
      ).map((a) => a.action),
    ).to.deep.equal(["reject"]);
  });

  it("ok/an approval is good for exactly approvalValidDays (LoA3 30, LoA2 60)", () => {
    expect(LOA3.approvalValidDays).to.equal(30);
    expect(LOA2.approvalValidDays).to.equal(60);
    const edge = new Date(NOW.getTime() - 30 * 86_400_000);
    expect(
      decide(LOA3, order("APPROVED", { approvedAt: edge }), "start-production", officer("o1"), {}, NOW, TERMS).to,
    ).to.equal("IN_PRODUCTION");
    expect(
      decide(
        LOA2,
        order("APPROVED", { approvedAt: new Date(NOW.getTime() - 59 * 86_400_000) }),
        "start-production",
        officer("o1"),
        {},
        NOW,
        TERMS,
      ).to,
    ).to.equal("IN_PRODUCTION");
  });

  it("ok/expiry: the system expires a card not activated in time, not before (REQ-15)", () => {
    const handed = order("HANDED_OUT", { handedOutAt: new Date("2026-04-01") });
    expect(decide(LOA3, handed, "expire", { kind: "system", roles: [] }, {}, NOW, TERMS).to).to.equal("EXPIRED");
    expect(
      refusal(() =>
        decide(
          LOA3,
          order("HANDED_OUT", { handedOutAt: NOW }),
          "expire",
          { kind: "system", roles: [] },
          {},
          NOW,
          TERMS,
        ),
      ).details?.guard,
    ).to.equal("state-deadline-passed");
  });

  it(`ok/deadlines in the workflow data: orders left in production (14 days) or produced (30 days) expire too \
(REQ-15)`, () => {
    expect(LOA3.deadlines).to.deep.equal({ IN_PRODUCTION: "14d", PRODUCED: "30d", HANDED_OUT: "30d" });
    const system: Actor = { kind: "system", roles: [] };
    expect(
      decide(
        LOA3,
        order("IN_PRODUCTION", { stateSince: new Date("2026-05-17T09:00:00Z") }),
        "expire",
        system,
        {},
        NOW,
        TERMS,
      ).to,
    ).to.equal("EXPIRED");
    expect(
      refusal(() =>
        decide(
          LOA3,
          order("IN_PRODUCTION", { stateSince: new Date("2026-05-19T11:00:00Z") }),
          "expire",
          system,
          {},
          NOW,
          TERMS,
        ),
      ).details?.guard,
    ).to.equal("state-deadline-passed");
    const t = decide(
      LOA3,
      order("PRODUCED", { stateSince: new Date("2026-04-30") }),
      "expire",
      system,
      {},
      NOW,
      TERMS,
    ).transition;
    expect([t.effects, t.revocationReason]).to.deep.equal([["revoke-certificate"], "cessationOfOperation"]);
    expect(
      decide(LOA3, order("IN_PRODUCTION"), "produce", staffCaOp, ATTESTED, NOW, TERMS).transition.effects,
    ).to.deep.equal(["issue-certificate-on-hold"]);
  });

  it("ok/renewal on a valid eID of the same level counts for the in-person identifications (REQ-11)", () => {
    const renewal = order("TERMS_ACCEPTED", { renewalOf: "c0" });
    expect(decide(LOA3, renewal, "identify-by-eid", { ...holder, credentialSerial: "c0" }, {}, NOW, TERMS).to).to.equal(
      "IDENTIFIED",
    );
    const identified = order("IDENTIFIED", {
      renewalOf: "c0",
      identifications: [{ officerId: "applicant", byEid: true, at: NOW, document: doc("eid"), faceCompared: false }],
    });
    expect(decide(LOA3, identified, "approve", officer("o1"), {}, NOW, TERMS).to).to.equal("APPROVED");
  });

  it("ok/service-owner staff may serve a new organisation's first officers (REQ-02)", () => {
    const staff = officer("s1", {
      organisationId: "service-owner",
      serviceOwnerStaff: true,
      roles: ["ra-officer", "service-owner-staff"],
    });
    expect(decide(LOA3, order("TERMS_ACCEPTED"), "identify", staff, identifyInput, NOW, TERMS).to).to.equal(
      "IDENTIFIED",
    );
  });
});
