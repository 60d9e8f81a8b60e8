import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { SEPARATION_SCHEMA, separationProblem } from "./separation.js";
import { channelConflict } from "./channel-separation.js";
import { schemaErrorText } from "../shared/schema-errors.js";
import { Closed, Enum, type Frozen } from "../shared/schema-types.js";

export const ORDER_STATES = [
  "REQUESTED",
  "TERMS_ACCEPTED",
  "IDENTIFIED",
  "APPROVED",
  "IN_PRODUCTION",
  "PRODUCED",
  "HANDED_OUT",
  "ACTIVE",
  "REJECTED",
  "CANCELLED",
  "EXPIRED",
] as const;
/** The states a workflow names. */
export type WorkflowState = (typeof ORDER_STATES)[number];
/**
 * Every state an order can be in: the workflow's, plus PRODUCING, the production saga's own
 * state between reserving the serial and completing certificate and order (no workflow names it).
 */
export type OrderState = WorkflowState | "PRODUCING";
/** States an order passes before it has a certificate: going back to one of them drops the certificate. */
export const PRE_CERTIFICATE_STATES: readonly OrderState[] = [
  "REQUESTED",
  "TERMS_ACCEPTED",
  "IDENTIFIED",
  "APPROVED",
  "IN_PRODUCTION",
];
/** States in which the order's certificate may be live (on hold or good). */
export const CERTIFICATE_STATES: readonly OrderState[] = ["PRODUCING", "PRODUCED", "HANDED_OUT", "ACTIVE"];
/** States that must have a deadline in the workflow data (REQ-15): past it the order expires. */
export const DEADLINE_STATES = ["IN_PRODUCTION", "PRODUCED", "HANDED_OUT"] as const;

/**
 * What a transition does to the order's certificate, declared in the workflow data and carried
 * out by the production saga (src/ra/production-saga.ts), never by code that looks at state names.
 */
export const EFFECTS = ["issue-certificate-on-hold", "release-certificate", "revoke-certificate"] as const;
export type Effect = (typeof EFFECTS)[number];

/** Guards a workflow may name; each is enforced by the RA engine (src/ra/guards.ts). */
export const GUARD_NAMES = [
  "terms-version-current",
  "officer-qualified",
  "not-own-order",
  "same-organisation",
  "register-checked",
  "document-accepted",
  "document-not-expired",
  "face-compared",
  "distinct-identifiers",
  "identifications-complete",
  "not-an-identifier",
  "second-identification",
  "activation-code-separate-channel",
  "within-activation-deadline",
  "activation-deadline-passed",
  "applicant-token",
  "existing-eid-valid",
  "card-of-this-order",
  "activation-code-correct",
  "key-attested",
  "document-not-reported",
  "knowledge-score",
  "approval-current",
  "state-deadline-passed",
  "activation-challenge-signed",
  "transport-pin-replaced",
] as const;
export type GuardName = (typeof GUARD_NAMES)[number];

/** A duration in the workflow data: days, hours or minutes ("14d", "36h", "90m"). */
const DURATION = /^([1-9][0-9]{0,5})([dhm])$/;
const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };
export function durationMs(s: string): number {
  const m = DURATION.exec(s);
  if (!m) throw new CaError("config", `'${s}' is not a duration (like 14d, 36h, 90m)`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}
/** Reasons a workflow may revoke an order's certificate with (RFC 5280 5.3.1). */
const REVOCATION_REASONS = [
  "cessationOfOperation",
  "superseded",
  "unspecified",
  "privilegeWithdrawn",
  "affiliationChanged",
] as const;

const SECRET_CHANNEL = Enum(["email", "sms", "mail"] as const);
const DURATION_TEXT = Type.String({ pattern: DURATION.source });

const TRANSITION = Closed({
  action: Type.String({ pattern: "^[a-z][a-z-]{1,40}$" }),
  // Workflow states only (the schema); typed as any order state so that `from.includes(state)` reads.
  from: Type.Array(Type.Unsafe<OrderState>(Enum(ORDER_STATES)), { minItems: 1, uniqueItems: true }),
  to: Enum(ORDER_STATES),
  by: Enum(["applicant", "holder", "officer", "system"] as const),
  roles: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
  guards: Type.Array(Enum(GUARD_NAMES), { uniqueItems: true }),
  // What the transition does to the order's certificate (absent: nothing).
  effects: Type.Optional(Type.Array(Enum(EFFECTS), { uniqueItems: true })),
  // RFC 5280 5.3.1 reason for `revoke-certificate`.
  revocationReason: Type.Optional(Enum(REVOCATION_REASONS)),
  // Transitions into HANDED_OUT: how the card travels to the holder (REQ-15).
  card: Type.Optional(Enum(["in-person", "mail"] as const)),
});
export type Transition = Frozen<Static<typeof TRANSITION>>;

/** How the messages to the applicant and holder travel (REQ-15: never the card's channel for a PIN or code). */
const DELIVERY_CHANNELS = Closed({ terms: SECRET_CHANNEL, activationCode: SECRET_CHANNEL, pin: SECRET_CHANNEL });
export type DeliveryChannels = Frozen<Static<typeof DELIVERY_CHANNELS>>;
export type SecretChannel = Static<typeof SECRET_CHANNEL>;

/** How the card writer personalises cards of a workflow (REQ-13..16). */
const CARD_PERSONALISATION = Closed({
  slot: Enum(["9a", "9c", "9d", "9e"] as const),
  algorithm: Enum(["P-256", "P-384", "RSA-2048"] as const),
  managementKey: Enum(["3DES", "AES-128", "AES-192", "AES-256"] as const),
  pin: Enum(["random", "transport"] as const),
  pinLength: Type.Integer({ minimum: 6, maximum: 8 }),
  pukLength: Type.Integer({ minimum: 8, maximum: 8 }),
});
export type CardPersonalisation = Frozen<Static<typeof CARD_PERSONALISATION>>;

/**
 * REQ-14: the PIV attestation a produced key must come with (YubiKey format: the card's f9 key
 * signs a certificate for the key generated in the slot, chained to a card maker's root).
 */
const KEY_ATTESTATION_POLICY = Closed({
  // Root sets: PEM files an operator installs under `<ca-store>/attestation-roots/<set>/`.
  roots: Type.Array(Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }), { minItems: 1, uniqueItems: true }),
  // PIN policies the attested key may have (Yubico: never, once, always, match-once, match-always).
  pinPolicy: Type.Array(Enum(["never", "once", "always", "match-once", "match-always"] as const), {
    minItems: 1,
    uniqueItems: true,
  }),
  // Touch policies the attested key may have; absent: any.
  touchPolicy: Type.Optional(
    Type.Array(Enum(["never", "always", "cached"] as const), { minItems: 1, uniqueItems: true }),
  ),
  /*
   * LoA2 only (the loader refuses it at LoA3): a card without attestation may be produced when the
   * card station itself generated the key on the card recorded for the order, after authenticating
   * to it with that card's recorded management key (`keyOrigin: card-station`).
   */
  cardStationFallback: Type.Boolean(),
});
export type KeyAttestationPolicy = Frozen<Static<typeof KEY_ATTESTATION_POLICY>>;

const KNOWLEDGE_QUESTIONS = Closed({
  passScore: Type.Integer({ minimum: 1 }),
  questions: Type.Array(
    Closed({
      id: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,39}$" }),
      text: Type.String({ minLength: 1, maxLength: 200 }),
      weight: Type.Integer({ minimum: 1, maximum: 100 }),
    }),
    { minItems: 1, maxItems: 20 },
  ),
});
export type KnowledgeQuestions = Frozen<Static<typeof KNOWLEDGE_QUESTIONS>>;

/** A LoA workflow file (`policies/workflows/*.yaml`), as the schema checks it. */
export const WORKFLOW_SCHEMA = Closed({
  id: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{1,62}$" }),
  version: Type.Integer({ minimum: 1 }),
  cps: Type.Array(Type.String(), { minItems: 1 }),
  loa: Enum([2, 3] as const),
  profiles: Type.Array(Type.String(), { minItems: 1 }),
  identifications: Type.Integer({ minimum: 1, maximum: 5 }),
  acceptedDocuments: Type.Array(Type.String({ pattern: "^[a-z][a-z-]{1,40}$" }), { minItems: 1, uniqueItems: true }),
  // REQ-15: how long an order may stay in each of these states ("14d", "36h"); past it the order expires.
  deadlines: Closed({ IN_PRODUCTION: DURATION_TEXT, PRODUCED: DURATION_TEXT, HANDED_OUT: DURATION_TEXT }),
  // An approval ages out: production must start and finish within this many days of it (guard approval-current).
  approvalValidDays: Type.Integer({ minimum: 1, maximum: 365 }),
  // RFC 5280 5.3.1 reason used when a card is revoked because it was not activated in time (REQ-15).
  expiryRevocationReason: Enum(["cessationOfOperation", "superseded", "unspecified", "privilegeWithdrawn"] as const),
  // May officer cards (profile ra-officer) be ordered through this workflow (REQ-02: LoA3 only)?
  officerCards: Type.Boolean(),
  card: CARD_PERSONALISATION,
  delivery: DELIVERY_CHANNELS,
  // REQ-14: how production proves that the key to certify was generated on the card.
  attestation: KEY_ATTESTATION_POLICY,
  // Where the card is made: the local card station, or an external card bureau (batch files; src/ra/bureau/).
  production: Type.Optional(Enum(["station", "bureau"] as const)),
  // Bureau production: how long a shipped card may take to be received at hand-out before an alarm.
  bureau: Type.Optional(Closed({ receivedWithin: DURATION_TEXT })),
  // REQ-08: optional control questions; the officer records which were answered right, the weights reach passScore.
  knowledgeQuestions: Type.Optional(KNOWLEDGE_QUESTIONS),
  // REQ-10: pairs of actions that distinct humans must take (the engine judges it from the order's recorded actors).
  separation: SEPARATION_SCHEMA,
  transitions: Type.Array(TRANSITION, { minItems: 1 }),
});

/** A LoA workflow as loaded: the file, plus what the loader works out from it. */
export type Workflow = Frozen<Omit<Static<typeof WORKFLOW_SCHEMA>, "production" | "bureau">> & {
  /** The deadlines in milliseconds. */
  readonly deadlineMs: Readonly<Record<(typeof DEADLINE_STATES)[number], number>>;
  /** The HANDED_OUT deadline in days: the activation deadline. */
  readonly activationDeadlineDays: number;
  /** Default station. */
  readonly production: "station" | "bureau";
  readonly bureau?: { readonly receivedWithin: string; readonly receivedWithinMs: number };
};
const validate = new Ajv({ allErrors: true, strict: true }).compile(WORKFLOW_SCHEMA);

const IDENTIFY_GUARDS: readonly GuardName[] = [
  "officer-qualified",
  "not-own-order",
  "register-checked",
  "document-accepted",
  "document-not-expired",
];
const LOA3_IDENTIFY_GUARDS: readonly GuardName[] = [
  ...IDENTIFY_GUARDS,
  "face-compared",
  "distinct-identifiers",
  "document-not-reported",
];
const HANDOUT_LOA3: readonly GuardName[] = [
  "not-an-identifier",
  "second-identification",
  "officer-qualified",
  "document-not-reported",
];

/** ACTIVE reachable from REQUESTED without passing through `avoid`? */
function reachable(w: Pick<Workflow, "transitions">, avoid: ReadonlySet<OrderState>): boolean {
  const seen = new Set<OrderState>(["REQUESTED"]);
  const todo: OrderState[] = ["REQUESTED"];
  while (todo.length) {
    const s = todo.pop()!;
    for (const t of w.transitions)
      if (t.from.includes(s) && !avoid.has(t.to) && !seen.has(t.to)) {
        seen.add(t.to);
        todo.push(t.to);
      }
  }
  return seen.has("ACTIVE");
}

/**
 * Refuses a workflow whose path to issuance lacks the guards its LoA requires (design.md;
 * REQ-03/04/10/25): identification, approval and hand-out cannot be skipped, and each carries
 * the separation-of-duty guards.
 */
export function checkWorkflow(w: Workflow, source: string): void {
  const fail = (m: string) => {
    throw new CaError("config", `workflow ${source}: ${m}`);
  };
  if (!reachable(w, new Set())) fail("no path from REQUESTED to ACTIVE");
  for (const gate of ["TERMS_ACCEPTED", "IDENTIFIED", "APPROVED", "HANDED_OUT"] as const)
    if (reachable(w, new Set([gate]))) fail(`a path to ACTIVE skips ${gate} (REQ-10)`);
  const into = (s: OrderState) => w.transitions.filter((t) => t.to === s);
  const need = (t: Transition, gs: readonly GuardName[], why: string) => {
    const missing = gs.filter((g) => !t.guards.includes(g));
    if (missing.length) fail(`'${t.action}' into ${t.to} lacks ${missing.join(", ")} (${why})`);
  };
  for (const t of w.transitions) {
    if (t.by === "applicant")
      need(t, ["applicant-token"], "REQ-06: only the applicant, holding the token sent to them, acts as applicant");
    if (t.by === "officer")
      need(
        t,
        ["not-own-order", "same-organisation"],
        "REQ-04, REQ-23: no officer acts on their own order or outside their organisation",
      );
    if (t.by === "officer" && !t.roles?.length) fail(`'${t.action}' is an officer action without roles (REQ-24)`);
  }
  for (const t of into("IDENTIFIED")) {
    if (t.by === "holder")
      need(
        t,
        ["existing-eid-valid", "register-checked"],
        "REQ-11: renewal on a valid eID of the same level, register re-checked",
      );
    else if (t.by === "officer") need(t, w.loa === 3 ? LOA3_IDENTIFY_GUARDS : IDENTIFY_GUARDS, "REQ-03/05/07/09/25");
    else fail(`'${t.action}' into IDENTIFIED must be done by an officer or (renewal) the holder`);
  }
  for (const t of into("PRODUCED"))
    need(t, ["key-attested"], "REQ-14: a certificate only for a key the card proves it generated");
  // REQ-14: at the high level only an attested key; the card-station fallback is for LoA2 cards without attestation.
  if (w.loa === 3 && w.attestation.cardStationFallback)
    fail("attestation.cardStationFallback is LoA2 only: a LoA3 key must come with the card's PIV attestation (REQ-14)");
  // An approval ages out: the identifications and register answer behind it must be recent when the card is made.
  for (const t of [...into("PRODUCED"), ...into("IN_PRODUCTION").filter((x) => x.from.includes("APPROVED"))])
    need(t, ["approval-current"], "REQ-03, REQ-07: production only within approvalValidDays of the approval");
  for (const t of into("APPROVED"))
    need(t, ["identifications-complete"], "REQ-03: release only after the identifications");
  for (const t of into("HANDED_OUT")) {
    if (w.loa === 3) need(t, HANDOUT_LOA3, "REQ-04: a third officer hands out after a second identification");
    else if (!t.guards.includes("activation-code-separate-channel") && !t.guards.includes("second-identification"))
      fail(`'${t.action}' into HANDED_OUT needs second-identification or activation-code-separate-channel (REQ-15)`);
  }
  for (const t of into("ACTIVE"))
    need(
      t,
      [
        "within-activation-deadline",
        "card-of-this-order",
        ...(w.loa === 2 ? (["activation-code-correct"] as const) : []),
      ],
      "REQ-15, REQ-16: the holder activates with this card (and the code sent separately)",
    );
  if (w.officerCards && w.loa !== 3) fail("officer cards are issued under LoA3 rules only (REQ-02)");
  // REQ-14: a bureau makes the key on the chip far from any card station, so only its PIV attestation can prove it.
  if (w.production === "bureau" && w.attestation.cardStationFallback)
    fail("production: bureau certifies only attested keys (attestation.cardStationFallback must be false, REQ-14)");
  if (w.production === "bureau" && !w.bureau)
    fail("production: bureau needs bureau.receivedWithin (how long a shipped card may take to reach hand-out)");
  if (w.production !== "bureau" && w.bureau) fail("a bureau block belongs only to a workflow with production: bureau");
  // REQ-16: at LoA3 the holder sets their own PIN at activation, so the card leaves production with a transport PIN.
  if (w.loa === 3 && w.card.pin !== "transport")
    fail("LoA3 cards leave production with a transport PIN the holder replaces (card.pin: transport, REQ-16)");
  // REQ-08: questions and their guard go together, and the pass score must be reachable.
  const kba = w.transitions.filter((t) => t.guards.includes("knowledge-score"));
  const q = w.knowledgeQuestions;
  if (kba.length && !q)
    fail(`'${kba[0]!.action}' names knowledge-score but the workflow has no knowledgeQuestions (REQ-08)`);
  if (q) {
    if (!into("IDENTIFIED").some((t) => t.by === "officer" && t.guards.includes("knowledge-score")))
      fail("knowledgeQuestions are listed but no identification checks knowledge-score (REQ-08)");
    if (new Set(q.questions.map((x) => x.id)).size !== q.questions.length)
      fail("knowledgeQuestions: question ids must be unique");
    const total = q.questions.reduce((a, x) => a + x.weight, 0);
    if (q.passScore > total)
      fail(`knowledgeQuestions: passScore ${q.passScore} is more than all weights together (${total})`);
  }
  if (w.loa === 3 && w.identifications < 2) fail("LoA3 needs two identifications by different officers (REQ-03)");
  const separation = separationProblem(w);
  if (separation) fail(separation);
  const conflict = channelConflict(w);
  if (conflict) fail(conflict);
  checkDeadlinesAndEffects(w, fail);
}

/**
 * REQ-15/16: what happens to the certificate is declared on the transitions and the loader
 * requires it at every LoA: production issues it on hold (relying parties see it as unusable
 * until activation), activation releases it, and every way out of a state that holds a
 * certificate to one that does not revokes it. Each state with a deadline has an expiry.
 */
function checkDeadlinesAndEffects(w: Workflow, fail: (m: string) => never): void {
  const holds = (s: OrderState) => CERTIFICATE_STATES.includes(s);
  for (const t of w.transitions) {
    const effects = t.effects ?? [];
    const has = (e: Effect) => effects.includes(e);
    if (t.to === "PRODUCED" && t.from.some((f) => !holds(f)) && !has("issue-certificate-on-hold"))
      fail(
        `'${t.action}' into PRODUCED lacks the effect issue-certificate-on-hold ` +
          `(REQ-16: the certificate is on hold until the holder activates the card)`,
      );
    if (has("issue-certificate-on-hold") && (t.to !== "PRODUCED" || t.from.some(holds)))
      fail(
        `'${t.action}': issue-certificate-on-hold belongs on the production step ` +
          `into PRODUCED, from a state without a certificate`,
      );
    if (t.to === "ACTIVE" && !has("release-certificate"))
      fail(`'${t.action}' into ACTIVE lacks the effect release-certificate (REQ-16: activation lifts the hold)`);
    if (has("release-certificate") && t.to !== "ACTIVE")
      fail(`'${t.action}': release-certificate belongs on the activation into ACTIVE only`);
    if (t.from.some(holds) && !holds(t.to) && !has("revoke-certificate"))
      fail(
        `'${t.action}' leaves a state with a certificate for ${t.to} without the ` +
          `effect revoke-certificate (REQ-14/15: no valid certificate for an order ` +
          `that does not go on)`,
      );
    if (has("revoke-certificate") && !t.revocationReason)
      fail(`'${t.action}': revoke-certificate needs a revocationReason`);
    if (t.revocationReason && !has("revoke-certificate"))
      fail(`'${t.action}': revocationReason without the effect revoke-certificate`);
  }
  for (const s of DEADLINE_STATES)
    if (
      !w.transitions.some(
        (t) =>
          t.by === "system" && t.from.includes(s) && t.to === "EXPIRED" && t.guards.includes("state-deadline-passed"),
      )
    )
      fail(`no expiry (by system, guard state-deadline-passed) out of ${s}, which has a deadline (REQ-15)`);
  if (w.loa === 3)
    for (const t of w.transitions.filter((x) => x.to === "ACTIVE")) {
      const missing = (["activation-challenge-signed", "transport-pin-replaced"] as const).filter(
        (g) => !t.guards.includes(g),
      );
      if (missing.length)
        fail(
          `'${t.action}' into ACTIVE lacks ${missing.join(", ")} (REQ-16: at LoA3 the ` +
            `card signs a fresh challenge after the holder replaced the transport PIN)`,
        );
    }
}

export function parseWorkflow(doc: unknown, source: string): Workflow {
  if (!validate(doc)) {
    throw new CaError("config", `workflow ${source}: ` + schemaErrorText(validate.errors));
  }
  const raw = doc as Static<typeof WORKFLOW_SCHEMA>;
  const deadlineMs = Object.fromEntries(
    DEADLINE_STATES.map((st) => [st, durationMs(raw.deadlines[st])]),
  ) as Workflow["deadlineMs"];
  const { bureau, ...rest } = raw;
  const w: Workflow = {
    ...rest,
    deadlineMs,
    activationDeadlineDays: deadlineMs.HANDED_OUT / 86_400_000,
    production: raw.production ?? "station",
    ...(bureau ? { bureau: { ...bureau, receivedWithinMs: durationMs(bureau.receivedWithin) } } : {}),
  };
  checkWorkflow(w, source);
  return Object.freeze(w);
}

export function loadWorkflows(dir: string): ReadonlyMap<string, Workflow> {
  const out = new Map<string, Workflow>();
  for (const f of readdirSync(dir)
    .filter((x) => /\.ya?ml$/.test(x))
    .sort()) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(join(dir, f), "utf8"), { strict: true, uniqueKeys: true });
    } catch (e) {
      throw new CaError("config", `workflow ${f}: ${(e as Error).message}`);
    }
    const w = parseWorkflow(doc, f);
    if (f.replace(/\.ya?ml$/, "") !== w.id)
      throw new CaError("config", `workflow ${f}: id '${w.id}' must match the file name`);
    out.set(w.id, w);
  }
  return out;
}
