import type { GuardName, Workflow } from "../policy/workflow.js";
import type { ActionInput, Actor, OrderView } from "./order.js";

export interface GuardContext {
  readonly workflow: Workflow;
  readonly order: OrderView;
  readonly actor: Actor;
  readonly input: ActionInput;
  readonly now: Date;
  readonly currentTermsVersion: string;
}

/**
 * Why a guard refused: the English words (logs, audit) and, for the reader's language, which of the guard's reasons and
 * its facts.
 */
export interface GuardRefusal {
  readonly message: string;
  /** One of the guard's reasons (refusal code `guard.<name>.<variant>`); absent: the guard's one reason. */
  readonly variant?: string;
  readonly params?: Readonly<Record<string, string | number | readonly string[]>>;
}

export interface Guard {
  readonly citation: string;
  /** A refusal in words an officer understands, or undefined when the guard holds. */
  check(ctx: GuardContext): string | GuardRefusal | undefined;
}

const why = (message: string, variant: string, params?: GuardRefusal["params"]): GuardRefusal => ({
  message,
  variant,
  ...(params ? { params } : {}),
});

const DAY = 86_400_000;
/** REQ-10: the humans who identified in person (a record without its human counts by its person record). */
const identifiers = (o: OrderView) =>
  new Set(o.identifications.filter((i) => !i.byEid).map((i) => i.humanId ?? `person:${i.officerId}`));
/** The actor is this human, or this person record (either is enough to be the same one). */
const same = (actor: Actor, humanId: string | undefined, personId: string | undefined) =>
  (actor.humanId !== undefined && actor.humanId === humanId) ||
  (actor.personId !== undefined && actor.personId === personId);
const identifiedAlready = (actor: Actor, o: OrderView) =>
  o.identifications.some((i) => !i.byEid && same(actor, i.humanId, i.officerId));
const docOk = (ctx: GuardContext, d: ActionInput["document"]): GuardRefusal | undefined =>
  !d
    ? why("no identity document recorded", "none")
    : !ctx.workflow.acceptedDocuments.includes(d.type)
      ? why(`document type '${d.type}' is not accepted (${ctx.workflow.acceptedDocuments.join(", ")})`, "type", {
          documentType: d.type,
          documentTypes: ctx.workflow.acceptedDocuments,
        })
      : undefined;

/** Every guard a workflow may name, with the requirement it enforces. */
export const GUARDS: Readonly<Record<GuardName, Guard>> = {
  "terms-version-current": {
    citation: "REQ-06",
    check: ({ input, currentTermsVersion }) =>
      input.accepted !== true
        ? why("the applicant must actively accept the terms (accepted: true)", "not-accepted")
        : input.termsVersion === currentTermsVersion
          ? undefined
          : why(`the applicant must accept the current terms (version ${currentTermsVersion})`, "old-version", {
              version: currentTermsVersion,
            }),
  },
  "officer-qualified": {
    citation: "REQ-25",
    check: ({ actor, now }) =>
      actor.qualifiedUntil && actor.qualifiedUntil > now
        ? undefined
        : "the officer has no valid identity-proofing qualification",
  },
  "not-own-order": {
    citation: "REQ-04, REQ-10",
    check: ({ actor, order }) =>
      same(actor, order.applicantHumanId, order.applicantPersonId)
        ? "no officer may act on an order for themself (the same human, in any organisation)"
        : undefined,
  },
  "same-organisation": {
    citation: "REQ-02, REQ-23",
    check: ({ actor, order }) =>
      actor.organisationId === order.organisationId || actor.serviceOwnerStaff
        ? undefined
        : "the officer belongs to another organisation",
  },
  "register-checked": {
    citation: "REQ-07",
    check: ({ order }) => (order.registerCheck?.ok ? undefined : "the authoritative-register check has not passed"),
  },
  "document-accepted": {
    citation: "REQ-05",
    check: (ctx) => docOk(ctx, ctx.input.document),
  },
  "document-not-expired": {
    citation: "REQ-05",
    check: ({ input, now }) =>
      input.document && input.document.expires > now ? undefined : "the identity document has expired",
  },
  "face-compared": {
    citation: "REQ-09",
    check: ({ input }) =>
      input.faceCompared === true
        ? undefined
        : "the officer must record that the face was compared with the document photo",
  },
  "distinct-identifiers": {
    citation: "REQ-03",
    check: ({ actor, order }) =>
      identifiedAlready(actor, order)
        ? "this officer has already identified the applicant; a different officer (another human) must"
        : undefined,
  },
  "identifications-complete": {
    citation: "REQ-03",
    check: ({ order, workflow }) => {
      if (order.renewalOf && order.identifications.some((i) => i.byEid)) return undefined; // REQ-11
      const n = identifiers(order).size;
      return n >= workflow.identifications
        ? undefined
        : why(`${workflow.identifications} identifications by different officers are needed, ${n} recorded`, "count", {
            needed: workflow.identifications,
            recorded: n,
          });
    },
  },
  "not-an-identifier": {
    citation: "REQ-04",
    check: ({ actor, order }) =>
      identifiedAlready(actor, order) ? "an officer who identified the applicant may not hand out the card" : undefined,
  },
  "second-identification": {
    citation: "REQ-04",
    check: (ctx) => {
      const s = ctx.input.secondIdentification;
      if (!s) return why("the recipient must identify again at hand-out", "missing");
      const bad =
        docOk(ctx, s.document) ??
        (s.document.expires > ctx.now ? undefined : why("the hand-out document has expired", "expired"));
      return (
        bad ??
        (ctx.workflow.loa === 3 && !s.faceCompared ? why("the face must be compared at hand-out", "face") : undefined)
      );
    },
  },
  "activation-code-separate-channel": {
    citation: "REQ-15",
    check: ({ input }) =>
      input.activationCodeChannel && input.cardChannel && input.activationCodeChannel !== input.cardChannel
        ? undefined
        : "the activation code must travel by another channel than the card",
  },
  "within-activation-deadline": {
    citation: "REQ-15",
    check: ({ order, workflow, now }) =>
      order.handedOutAt && now.getTime() <= order.handedOutAt.getTime() + workflow.activationDeadlineDays * DAY
        ? undefined
        : "the activation deadline has passed",
  },
  "applicant-token": {
    citation: "REQ-06",
    check: ({ order, input }) =>
      order.applicantTokenHash && input.applicantTokenHash === order.applicantTokenHash
        ? undefined
        : "only the applicant, with the token sent to them, can do this",
  },
  "existing-eid-valid": {
    citation: "REQ-11",
    check: ({ order, actor, workflow }) =>
      !order.renewalOf
        ? why("this order is not a renewal on an existing eID", "not-renewal")
        : actor.kind !== "holder" || actor.credentialSerial !== order.renewalOf
          ? why("the eID this renewal stands on must be presented", "not-presented")
          : actor.personId !== order.applicantPersonId
            ? why("the eID belongs to someone else", "someone-else")
            : (actor.loa ?? 0) < workflow.loa
              ? why(`an eID of at least LoA${workflow.loa} is needed`, "loa", { loa: workflow.loa })
              : undefined,
  },
  "card-of-this-order": {
    citation: "REQ-16",
    check: ({ order, actor }) =>
      order.certSerial && actor.credentialSerial === order.certSerial && actor.personId === order.applicantPersonId
        ? undefined
        : "activation needs the card of this order, used by its holder",
  },
  "activation-code-correct": {
    citation: "REQ-15",
    check: ({ order, input }) =>
      order.activationCodeHash && input.activationCodeHash === order.activationCodeHash
        ? undefined
        : "the activation code is wrong",
  },
  "key-attested": {
    citation: "REQ-14",
    check: ({ input }) =>
      input.keyOrigin?.ok
        ? undefined
        : input.keyOrigin
          ? why(input.keyOrigin.reason, input.keyOrigin.variant ?? "attestation-required")
          : why("production needs the card's PIV attestation of the key generated on it", "attestation-required"),
  },
  "document-not-reported": {
    citation: "REQ-05",
    check: ({ input }) => {
      const r = input.documentRegister?.reported[0];
      return r
        ? why(`the ${r.document} is reported ${r.reason} in ${input.documentRegister!.source}`, "reported", {
            reason: r.reason,
          })
        : undefined;
    },
  },
  "knowledge-score": {
    citation: "REQ-08",
    check: ({ workflow, input }) => {
      const q = workflow.knowledgeQuestions;
      if (!q) return why("the workflow has no control questions", "none");
      const answers = input.knowledgeAnswers ?? {};
      const unknown = Object.keys(answers).filter((id) => !q.questions.some((x) => x.id === id));
      if (unknown.length) return why(`unknown control question(s): ${unknown.join(", ")}`, "unknown");
      const score = q.questions.reduce((a, x) => a + (answers[x.id] === true ? x.weight : 0), 0);
      return score >= q.passScore
        ? undefined
        : why(`the control questions scored ${score}, ${q.passScore} are needed`, "score", {
            score,
            passScore: q.passScore,
          });
    },
  },
  "state-deadline-passed": {
    citation: "REQ-15",
    check: ({ order, workflow, now }) => {
      const limit = (workflow.deadlineMs as Partial<Record<string, number>>)[order.state];
      const since = order.state === "HANDED_OUT" ? (order.handedOutAt ?? order.stateSince) : order.stateSince;
      if (limit === undefined) return `the workflow sets no deadline for ${order.state}`;
      return since && now.getTime() > since.getTime() + limit
        ? undefined
        : `the ${order.state} deadline has not passed yet`;
    },
  },
  "activation-challenge-signed": {
    citation: "REQ-16",
    check: ({ input }) =>
      input.activation?.challengeSigned
        ? undefined
        : input.activation?.refusal
          ? why(input.activation.refusal, input.activation.variant ?? "not-signed")
          : why(
              "the card must sign the RA's activation challenge (GET /holder/orders/{id}/activation-challenge)",
              "not-signed",
            ),
  },
  "transport-pin-replaced": {
    citation: "REQ-16",
    check: ({ input, order }) => {
      const p = input.activation?.pinReplaced;
      if (!p) return why("the card station has not recorded that the holder replaced the transport PIN", "missing");
      return order.handedOutAt && p.at.getTime() >= order.handedOutAt.getTime()
        ? undefined
        : why("the transport PIN replacement must be recorded after the hand-out", "before-hand-out");
    },
  },
  "approval-current": {
    citation: "REQ-03, REQ-07",
    check: ({ order, workflow, now }) =>
      !order.approvedAt
        ? why("the order has no recorded approval", "none")
        : now.getTime() <= order.approvedAt.getTime() + workflow.approvalValidDays * DAY
          ? undefined
          : why(
              `the approval of ${order.approvedAt.toISOString()} is older than ` +
                `${workflow.approvalValidDays} days; the applicant must be identified and ` +
                `approved again`,
              "aged",
              { approvedAt: order.approvedAt.toISOString(), days: workflow.approvalValidDays },
            ),
  },
  "activation-deadline-passed": {
    citation: "REQ-15",
    check: ({ order, workflow, now }) =>
      order.handedOutAt && now.getTime() > order.handedOutAt.getTime() + workflow.activationDeadlineDays * DAY
        ? undefined
        : "the activation deadline has not passed yet",
  },
};
