/**
 * Evidence per certificate (REQ-31): the story of a card from order to revocation, from the
 * records and the audit trail, and a verdict per policy rule with the requirement and CPS
 * section it checks. Pure: the caller gathers the records (composition reads the stores).
 */

export interface EvidenceIdentification {
  readonly kind: "identify" | "eid" | "hand-out";
  readonly officerId: string;
  readonly at: number;
  readonly documentType: string;
  readonly documentExpires: number;
  readonly faceCompared: boolean;
}

/** REQ-10: one step of the order and the human who took it ("request": the order's creation). */
export interface EvidenceActor {
  readonly action: string;
  readonly personId: string;
  readonly humanId: string;
  readonly at: number;
}

/** The workflow's separation matrix judged on this order's recorded actors (REQ-10). */
export interface SeparationEvidence {
  readonly matrix: readonly (readonly [string, string])[];
  readonly steps: readonly {
    readonly action: string;
    readonly personId: string;
    readonly human: string;
    readonly at: string;
  }[];
  /** `humans`: the tags of the humans who broke a failed pair. */
  readonly pairs: readonly {
    readonly pair: readonly [string, string];
    readonly result: "pass" | "fail" | "not-applicable";
    readonly detail: string;
    readonly humans?: readonly string[];
  }[];
  readonly verdict: "pass" | "fail" | "not-applicable";
}

export interface EvidenceOfficer {
  readonly personId: string;
  readonly name?: string;
  readonly roles: readonly string[];
  readonly qualifiedUntil?: number;
  readonly organisationId?: string;
}

export interface EvidenceEvent {
  readonly seq: number;
  readonly id: string;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly objectType: string;
  readonly objectId: string;
  readonly outcome: string;
  readonly policy: string | null;
  readonly details: Record<string, unknown> | null;
}

export interface EvidenceInput {
  readonly certificate: {
    readonly serial: string;
    readonly profile: string;
    readonly issuerId: string;
    readonly subject: string;
    readonly notBefore: number;
    readonly notAfter: number;
    readonly status: string;
    readonly revokedAt?: number;
    readonly revocationReason?: string;
    readonly requestedBy: string;
  };
  readonly order?: {
    readonly id: string;
    readonly organisationId: string;
    readonly applicantPersonId: string;
    readonly workflow: string;
    readonly loa: number;
    readonly state: string;
    readonly termsVersion?: string;
    readonly registerOk?: boolean;
    readonly registerStatus?: string;
    readonly registerSource?: string;
    readonly registerAt?: number;
    readonly createdAt: number;
    readonly handedOutAt?: number;
    readonly activatedAt?: number;
    readonly renewalOf?: string;
    readonly identificationsRequired: number;
    readonly activationDeadlineDays: number;
    readonly purpose: string;
  };
  readonly identifications: readonly EvidenceIdentification[];
  /** REQ-10: who took which step, by human, and the workflow's separation matrix. */
  readonly actors?: readonly EvidenceActor[];
  readonly separation?: readonly (readonly [string, string])[];
  readonly officers: ReadonlyMap<string, EvidenceOfficer>;
  readonly events: readonly EvidenceEvent[];
  readonly card?: {
    readonly id: string;
    readonly cardSerial: string;
    readonly slot?: string;
    readonly algorithm?: string;
    readonly state: string;
    readonly pinState?: string;
  };
}

/**
 * One clause of a detail, by a stable code (`ev.*`) with its facts, for readers in another language
 * than the English `detail` (the portal words it; params may hold ids, times and internal names:
 * the reader's words are the catalogue's, never the raw params).
 */
export interface DetailPart {
  readonly code: string;
  readonly params: Readonly<Record<string, unknown>>;
}

export interface StoryStep {
  readonly at: string;
  /**
   * The step in English (the CLI prints it); `action` is the audit action it describes (stable, for readers in other
   * languages).
   */
  readonly step: string;
  readonly action: string;
  readonly actor: string;
  readonly detail: string;
  /** `detail` clause by clause, by code. */
  readonly parts: readonly DetailPart[];
  readonly auditSeq?: number;
}

export interface Verdict {
  /**
   * The rule in English (the CLI prints it); `code` (`rule.*`, with `params`) is stable, for readers in other
   * languages.
   */
  readonly rule: string;
  readonly code: string;
  readonly params: Readonly<Record<string, number>>;
  readonly requirement: string;
  readonly cps: string;
  readonly result: "pass" | "fail" | "not-applicable";
  readonly detail: string;
  /** `detail` clause by clause, by code. */
  readonly parts: readonly DetailPart[];
}

export interface Evidence {
  readonly certificate: EvidenceInput["certificate"];
  readonly order?: EvidenceInput["order"];
  readonly card?: EvidenceInput["card"];
  /**
   * REQ-14: how production proved the key was generated on the card (the produce event's record: PIV attestation facts
   * and certificates, or the LoA2 card-station fallback).
   */
  readonly keyOrigin?: Readonly<Record<string, unknown>>;
  readonly separation?: SeparationEvidence;
  readonly story: readonly StoryStep[];
  readonly verdicts: readonly Verdict[];
  readonly verdict: "pass" | "fail";
}

const iso = (ms: number) => new Date(ms).toISOString();
const DAY = 86_400_000;

const STEP: Record<string, string> = {
  "order.create": "order placed (register checked)",
  "order.renew": "renewal ordered on an eID",
  "order.accept-terms": "terms accepted by the applicant",
  "order.identify": "identified in person",
  "order.identify-by-eid": "identified by a valid eID",
  "order.approve": "approved for production",
  "order.start-production": "released to production",
  "order.produce": "certificate issued for the card's key",
  "order.production-failed": "production failed, certificate revoked",
  "order.hand-out": "card handed out",
  "order.send-by-mail": "card sent by mail",
  "order.activate": "card activated by the holder",
  "order.expire": "expired unactivated",
  "order.production.reserve": "serial reserved for the order (production saga)",
  "order.production.fail": "signing failed, serial burnt, order back in production",
  "order.production.compensate": "production did not complete: serial revoked, order back in production",
  "cert.abandon": "unfinished serial published as revoked",
  "order.transport-pin-replaced": "card station recorded the transport PIN replaced",
  "order.activation-challenge": "activation challenge given to the card",
  "order.reject": "rejected",
  "order.cancel": "cancelled",
  "cert.reserve": "serial reserved",
  "cert.issue": "certificate signed and stored",
  "cert.revoke": "certificate revoked",
  "cert.hold": "certificate suspended",
  "cert.resume": "suspension lifted",
  "card.personalise.start": "card connected for personalisation",
  "card.key.generate": "key pair generated on the card",
  "card.certificate.write": "certificate written to the card",
  "card.pin.set": "PIN and PUK set",
  "card.personalise": "personalisation finished",
  "card.unblock": "PIN unblocked by an officer",
  "card.pin.change": "holder set their own PIN",
  "card.retire": "card retired",
  "card.lost": "card reported lost",
  "card.bureau.produce": "card made by the external card bureau",
};

/** A clause: its code and facts, and its English words (the `detail` the CLI prints). */
type Clause = DetailPart & { readonly en: string };
const clause = (code: string, params: Record<string, unknown>, en: string): Clause => ({ code, params, en });
const english = (cs: readonly Clause[]) => cs.map((c) => c.en).join("; ");
const coded = (cs: readonly Clause[]): DetailPart[] => cs.map(({ code, params }) => ({ code, params }));

function describe(e: EvidenceEvent): Clause[] {
  const d = e.details ?? {};
  const bits: Clause[] = [];
  if (e.outcome !== "success") bits.push(clause("ev.outcome", { outcome: e.outcome }, `outcome ${e.outcome}`));
  if (e.action === "order.accept-terms" && d.workflow)
    bits.push(clause("ev.workflow", { workflow: String(d.workflow) }, `workflow ${String(d.workflow)}`));
  if (e.action === "order.accept-terms" && d.terms && typeof d.terms === "object")
    bits.push(termsText(d.terms as Record<string, unknown>));
  if (typeof d.documentType === "string")
    bits.push(clause("ev.document", { documentType: d.documentType }, `document ${d.documentType}`));
  if (d.register && typeof d.register === "object") {
    const status = (d.register as { status?: string }).status;
    bits.push(
      status
        ? clause("ev.register-said", { status }, `register: ${status}`)
        : clause("ev.register-checked", {}, "register: checked"),
    );
  }
  if (typeof d.certificate === "string")
    bits.push(clause("ev.certificate", { serial: d.certificate }, `certificate ${d.certificate}`));
  if (e.action === "cert.hold" && d.cause === "activation")
    bits.push(clause("ev.on-hold-until-activation", {}, "on hold until the holder activates the card (REQ-16)"));
  if (typeof d.spkiSha256 === "string")
    bits.push(
      clause("ev.key-spki", { sha256: d.spkiSha256.slice(0, 16) }, `key SPKI SHA-256 ${d.spkiSha256.slice(0, 16)}…`),
    );
  if (d.keyOrigin && typeof d.keyOrigin === "object") bits.push(keyOriginText(d.keyOrigin as Record<string, unknown>));
  if (typeof d.verified === "string") bits.push(clause("ev.verified", { text: d.verified }, d.verified));
  if (typeof d.reason === "string") bits.push(clause("ev.reason", { reason: d.reason }, `reason ${d.reason}`));
  if (typeof d.cardSerial === "string")
    bits.push(clause("ev.card", { cardSerial: d.cardSerial }, `card ${d.cardSerial}`));
  return bits;
}

/** REQ-06: which text of the terms the applicant accepted: version, language, SHA-256 of the file. */
function termsText(t: Record<string, unknown>): Clause {
  return clause(
    "ev.terms-text",
    { version: String(t.version), language: String(t.language), sha256: String(t.sha256) },
    `terms version ${String(t.version)} in ${String(t.language)}, SHA-256 ${String(t.sha256)}`,
  );
}

/** REQ-14: one line on where the certified key came from. */
function keyOriginText(k: Record<string, unknown>): Clause {
  if (k.method === "piv-attestation") {
    const root = (k.root ?? {}) as { set?: string; subject?: string };
    const params = {
      cardSerial: String(k.cardSerial),
      slot: String(k.slot),
      pinPolicy: String(k.pinPolicy),
      touchPolicy: String(k.touchPolicy),
      firmware: k.firmware ? String(k.firmware) : "",
      rootSubject: root.subject ?? "?",
      rootSet: root.set ?? "?",
      attestationSha256: String(k.attestationSha256).slice(0, 16),
      intermediateSha256: String(k.intermediateSha256).slice(0, 16),
    };
    return clause(
      "ev.key-piv-attestation",
      params,
      `PIV attestation by card ${params.cardSerial}, slot ${params.slot} (PIN ` +
        `${params.pinPolicy}, touch ` +
        `${params.touchPolicy}${params.firmware ? `, firmware ${params.firmware}` : ""}), ` +
        `chained to ${params.rootSubject} (root set ${params.rootSet}); attestation ` +
        `SHA-256 ${params.attestationSha256}…, f9 certificate SHA-256 ${params.intermediateSha256}…`,
    );
  }
  if (k.method === "card-station")
    return clause(
      "ev.key-card-station",
      { cardSerial: String(k.cardSerial) },
      `no attestation: key generated by the card station on card ` +
        `${String(k.cardSerial)}, opened with its recorded management key (LoA2 fallback)`,
    );
  return clause("ev.key-origin", { method: String(k.method) }, `key origin ${String(k.method)}`);
}

/** A short, stable tag of a human (the keyed hash of their national ID is never shown whole). */
const humanTag = (h: string) => `human:${h.slice(0, 12)}`;

/**
 * REQ-10: each pair of the matrix judged on the order's actors. A pair [a, b] holds when no human
 * took both a and b ([a, a]: when no human took a twice); a pair none of whose steps happened yet
 * is not applicable.
 */
export function judgeSeparation(
  matrix: readonly (readonly [string, string])[],
  actors: readonly EvidenceActor[],
): SeparationEvidence {
  const by = (action: string) => actors.filter((x) => x.action === action);
  const pairs = matrix.map(([a, b]) => {
    const as = by(a),
      bs = by(b);
    if (as.length === 0 || bs.length === 0 || (a === b && as.length < 2))
      return {
        pair: [a, b] as const,
        result: "not-applicable" as const,
        detail:
          a === b
            ? `'${a}' taken ${as.length} time(s)`
            : `'${a}' ${as.length ? "taken" : "not taken"}, '${b}' ${bs.length ? "taken" : "not taken"}`,
      };
    const both =
      a === b
        ? [...new Set(as.map((x) => x.humanId))].filter((h) => as.filter((x) => x.humanId === h).length > 1)
        : [...new Set(as.map((x) => x.humanId))].filter((h) => bs.some((y) => y.humanId === h));
    return both.length
      ? {
          pair: [a, b] as const,
          result: "fail" as const,
          humans: both.map(humanTag),
          detail: `${both.map(humanTag).join(", ")} took ${a === b ? `'${a}' twice` : `both '${a}' and '${b}'`}`,
        }
      : {
          pair: [a, b] as const,
          result: "pass" as const,
          detail:
            `'${a}' by ${[...new Set(as.map((x) => humanTag(x.humanId)))].join(", ")}; ` +
            `'${b}' by ${[...new Set(bs.map((x) => humanTag(x.humanId)))].join(", ")}`,
        };
  });
  const applicable = pairs.filter((p) => p.result !== "not-applicable");
  return {
    matrix,
    pairs,
    steps: actors.map((x) => ({ action: x.action, personId: x.personId, human: humanTag(x.humanId), at: iso(x.at) })),
    verdict: applicable.length === 0 ? "not-applicable" : applicable.some((p) => p.result === "fail") ? "fail" : "pass",
  };
}

/** The story and the verdicts for one certificate. */
export function buildEvidence(input: EvidenceInput): Evidence {
  const { order, identifications, officers, certificate } = input;
  const story: StoryStep[] = input.events.map((e) => {
    const cs = describe(e);
    return {
      at: iso(e.at),
      step: STEP[e.action] ?? e.action,
      action: e.action,
      actor: e.actor,
      detail: english(cs),
      parts: coded(cs),
      auditSeq: e.seq,
    };
  });
  const v: Verdict[] = [];
  let separation: SeparationEvidence | undefined;
  const add = (
    [code, params = {}]: [string, Record<string, number>?],
    rule: string,
    requirement: string,
    cps: string,
    ok: boolean | undefined,
    detail: Clause | readonly Clause[],
  ) => {
    const cs = Array.isArray(detail) ? detail : [detail as Clause];
    v.push({
      rule,
      code,
      params,
      requirement,
      cps,
      result: ok === undefined ? "not-applicable" : ok ? "pass" : "fail",
      detail: english(cs),
      parts: coded(cs),
    });
  };

  if (!order) {
    add(
      ["rule.card-order"],
      "issued through a card order",
      "REQ-10",
      "CPS 4.1",
      certificate.requestedBy.startsWith("operator:") || certificate.requestedBy.startsWith("ceremony:")
        ? undefined
        : false,
      clause(
        "ev.no-order",
        { actor: certificate.requestedBy },
        `no card order names this certificate (requested by ${certificate.requestedBy})`,
      ),
    );
  } else {
    const inPerson = identifications.filter((i) => i.kind === "identify");
    const byEid = identifications.some((i) => i.kind === "eid");
    const handOut = identifications.find((i) => i.kind === "hand-out");
    const identifiers = [...new Set(inPerson.map((i) => i.officerId))];
    const accepted = input.events.find((e) => e.action === "order.accept-terms" && e.outcome === "success")?.details
      ?.terms as Record<string, unknown> | undefined;
    add(
      ["rule.terms"],
      "terms accepted by the applicant",
      "REQ-06",
      "CPS 4.1",
      order.termsVersion !== undefined,
      order.termsVersion
        ? accepted
          ? termsText(accepted)
          : clause("ev.terms-version", { version: order.termsVersion }, `terms version ${order.termsVersion}`)
        : clause("ev.no-terms", {}, "no terms acceptance recorded"),
    );
    add(
      ["rule.register"],
      "authoritative register checked",
      "REQ-07",
      "CPS 3.2.3",
      order.registerOk === true,
      clause(
        order.registerStatus ? (order.registerAt ? "ev.register-at" : "ev.register") : "ev.register-no-answer",
        { status: order.registerStatus ?? "", ...(order.registerAt ? { at: iso(order.registerAt) } : {}) },
        `register ${order.registerSource ?? "?"}: ` +
          `${order.registerStatus ?? "no answer"}${order.registerAt ? ` at ${iso(order.registerAt)}` : ""}`,
      ),
    );
    if (byEid)
      add(
        ["rule.renewal"],
        "renewal on a valid eID of at least the same level",
        "REQ-11",
        "CPS 3.3.1",
        order.renewalOf !== undefined,
        clause("ev.renewal-of", { serial: order.renewalOf ?? "" }, `renewal of ${order.renewalOf ?? "?"}`),
      );
    else
      add(
        ["rule.identifications", { n: order.identificationsRequired }],
        `${order.identificationsRequired} identification(s) by different officers`,
        order.loa >= 3 ? "REQ-03" : "REQ-03, REQ-05",
        "CPS 3.2.3",
        identifiers.length >= order.identificationsRequired,
        identifiers.length
          ? clause("ev.identified-by", { people: identifiers }, `identified by ${identifiers.join(", ")}`)
          : clause("ev.identified-by-nobody", {}, "identified by nobody"),
      );
    add(
      ["rule.documents-valid"],
      "identity documents valid at identification",
      "REQ-05",
      "CPS 3.2.3",
      inPerson.every((i) => i.documentExpires > i.at) && (!handOut || handOut.documentExpires > handOut.at),
      inPerson.length
        ? inPerson.map((i) =>
            clause(
              "ev.document-valid-until",
              { documentType: i.documentType, day: iso(i.documentExpires).slice(0, 10) },
              `${i.documentType} valid until ${iso(i.documentExpires).slice(0, 10)}`,
            ),
          )
        : clause("ev.no-in-person", {}, "no in-person identification"),
    );
    if (order.loa >= 3 && !byEid)
      add(
        ["rule.face"],
        "face compared with the document photo",
        "REQ-09",
        "CPS 3.2.3",
        inPerson.every((i) => i.faceCompared),
        inPerson.map((i) =>
          clause(
            i.faceCompared ? "ev.face-compared" : "ev.face-not-compared",
            { person: i.officerId },
            `${i.officerId}: ${i.faceCompared ? "compared" : "NOT compared"}`,
          ),
        ),
      );
    const unqualified = inPerson.filter((i) => {
      const o = officers.get(i.officerId);
      return !o?.qualifiedUntil || o.qualifiedUntil <= i.at;
    });
    add(
      ["rule.qualified"],
      "identifying officers qualified at the time",
      "REQ-25",
      "CPS 5.3.2",
      inPerson.length ? unqualified.length === 0 : undefined,
      unqualified.length
        ? clause(
            "ev.not-qualified",
            { people: unqualified.map((i) => i.officerId) },
            `not qualified at the time: ${unqualified.map((i) => i.officerId).join(", ")}`,
          )
        : clause("ev.all-qualified", {}, "every identifying officer held a valid qualification"),
    );
    const self = [...identifiers, handOut?.officerId].filter((x) => x === order.applicantPersonId);
    add(
      ["rule.not-own"],
      "no officer acted on their own order",
      "REQ-10",
      "CPS 5.2.4",
      self.length === 0,
      self.length
        ? clause("ev.applicant-acted", {}, "the applicant acted as officer")
        : clause("ev.applicant-never-acted", {}, "applicant never acted as officer"),
    );
    if (order.loa >= 3)
      add(
        ["rule.third-officer"],
        "hand-out by a third officer with a second identification",
        "REQ-04",
        "CPS 4.4",
        handOut ? !identifiers.includes(handOut.officerId) && (byEid || identifiers.length >= 2) : undefined,
        handOut
          ? clause(
              identifiers.length ? "ev.handed-out-by" : "ev.handed-out-by-renewal",
              { person: handOut.officerId, documentType: handOut.documentType, people: identifiers },
              `handed out by ${handOut.officerId} (${handOut.documentType}); identifiers ` +
                `${identifiers.join(", ") || "(eID renewal)"}`,
            )
          : clause("ev.not-handed-out", {}, "not handed out yet"),
      );
    const distinct = new Set([...identifiers, ...(handOut ? [handOut.officerId] : [])]);
    if (order.loa >= 3 && !byEid)
      add(
        ["rule.three-officers"],
        "three distinct officers (two identifiers, one hand-out)",
        "REQ-03, REQ-04, REQ-10",
        "CPS 5.2.4",
        handOut ? distinct.size >= 3 : undefined,
        clause("ev.distinct-officers", { n: distinct.size }, `${distinct.size} distinct officer(s)`),
      );
    if (input.separation) {
      const sep = judgeSeparation(input.separation, input.actors ?? []);
      separation = sep;
      const failed = sep.pairs.filter((p) => p.result === "fail");
      add(
        ["rule.separation"],
        "separation of duties by the workflow's matrix (distinct humans)",
        "REQ-10",
        "CPS 5.2.4",
        sep.verdict === "not-applicable" ? undefined : sep.verdict === "pass",
        failed.length
          ? failed.map((p) =>
              clause(
                p.pair[0] === p.pair[1] ? "ev.separation-twice" : "ev.separation-both",
                { a: p.pair[0], b: p.pair[1], humans: p.humans ?? [] },
                `[${p.pair.join(", ")}]: ${p.detail}`,
              ),
            )
          : clause(
              "ev.separation-held",
              {
                held: sep.pairs.filter((p) => p.result === "pass").length,
                total: sep.pairs.length,
                n: new Set((input.actors ?? []).map((x) => x.humanId)).size,
              },
              `${sep.pairs.filter((p) => p.result === "pass").length} of ` +
                `${sep.pairs.length} pair(s) held, the rest not applicable; ` +
                `${new Set((input.actors ?? []).map((x) => x.humanId)).size} human(s) took part`,
            ),
      );
    }
    const produced = input.events.find((e) => e.action === "order.produce");
    const issued = input.events.find((e) => e.action === "cert.reserve" || e.action === "cert.issue");
    const released = input.events.find((e) => e.action === "order.start-production");
    add(
      ["rule.after-release"],
      "issued only after release to production",
      "REQ-03, REQ-10",
      "CPS 4.3.1",
      produced && released ? released.at <= produced.at && (!issued || released.at <= issued.at) : undefined,
      released
        ? clause(
            produced ? "ev.released-certified" : "ev.released",
            { releasedAt: iso(released.at), ...(produced ? { certifiedAt: iso(produced.at) } : {}) },
            `released ${iso(released.at)}, certified ${produced ? iso(produced.at) : "?"}`,
          )
        : clause("ev.no-release", {}, "no release recorded"),
    );
    const keyOnCard = input.events.find((e) => e.action === "card.key.generate");
    // The production that issued this certificate (a failed production before it issued another one).
    const origin = (
      input.events.find((e) => e.action === "order.produce" && e.details?.certificate === certificate.serial) ??
      produced
    )?.details?.keyOrigin as Record<string, unknown> | undefined;
    if (origin)
      add(
        ["rule.key-attested"],
        "key generated on the card (attested)",
        "REQ-14",
        "CPS 6.1.1",
        origin.method === "piv-attestation"
          ? !input.card || input.card.cardSerial === origin.cardSerial
          : origin.method === "card-station" && order.loa < 3,
        [
          keyOriginText(origin),
          ...(origin.method === "piv-attestation" && input.card && input.card.cardSerial !== origin.cardSerial
            ? [
                clause(
                  "ev.other-card-recorded",
                  { cardSerial: input.card.cardSerial },
                  `but the card recorded is ${input.card.cardSerial}`,
                ),
              ]
            : []),
        ],
      );
    else
      add(
        ["rule.key-on-card"],
        "key generated on the card",
        "REQ-14",
        "CPS 6.1.1",
        input.card ? keyOnCard !== undefined : undefined,
        [
          keyOnCard
            ? clause(
                "ev.card-slot",
                { cardSerial: String(input.card?.cardSerial), slot: String(keyOnCard.details?.slot ?? "?") },
                `card ${input.card?.cardSerial}, slot ${String(keyOnCard.details?.slot ?? "?")}`,
              )
            : clause("ev.no-personalisation", {}, "no card personalisation recorded"),
          clause("ev.no-attestation", {}, "no key attestation recorded (produced before attestation was required)"),
        ],
      );
    // REQ-16: relying parties saw the card as unusable until the holder activated it.
    const bornHeld = input.events.find((e) => e.action === "cert.hold" && e.details?.cause === "activation");
    if (produced)
      add(
        ["rule.hold"],
        "on hold from issuance until the holder's activation",
        "REQ-16",
        "CPS 4.4.1",
        bornHeld !== undefined,
        bornHeld
          ? clause(
              order.activatedAt !== undefined ? "ev.held-released" : "ev.held-awaiting",
              {
                heldAt: iso(bornHeld.at),
                ...(order.activatedAt !== undefined ? { activatedAt: iso(order.activatedAt) } : {}),
              },
              `held ${iso(bornHeld.at)}` +
                (order.activatedAt !== undefined
                  ? `, released at the activation ${iso(order.activatedAt)}`
                  : ", awaiting activation"),
            )
          : clause("ev.not-held", {}, "issued without the activation hold"),
      );
    const activation = input.events.find((e) => e.action === "order.activate")?.details?.activation as
      { challengeSigned?: boolean; transportPinReplaced?: { at: string; recordedBy: string } } | undefined;
    if (order.loa >= 3 && order.activatedAt !== undefined)
      add(
        ["rule.activated-by-card"],
        "activated by the card after the transport PIN was replaced",
        "REQ-16",
        "CPS 4.4.1",
        activation?.challengeSigned === true && activation.transportPinReplaced !== undefined,
        activation?.transportPinReplaced
          ? clause(
              "ev.challenge-signed",
              { actor: activation.transportPinReplaced.recordedBy, at: activation.transportPinReplaced.at },
              `challenge signed by the card; PIN change recorded by ` +
                `${activation.transportPinReplaced.recordedBy} at ${activation.transportPinReplaced.at}`,
            )
          : clause("ev.no-card-signature", {}, "no card signature or PIN change record"),
      );
    if (order.activatedAt !== undefined && order.handedOutAt !== undefined)
      add(
        ["rule.activation-deadline"],
        "activated within the deadline",
        "REQ-15",
        "CPS 4.4.1",
        order.activatedAt - order.handedOutAt <= order.activationDeadlineDays * DAY,
        clause(
          "ev.activated",
          {
            handedOutAt: iso(order.handedOutAt),
            activatedAt: iso(order.activatedAt),
            days: order.activationDeadlineDays,
          },
          `handed out ${iso(order.handedOutAt)}, activated ${iso(order.activatedAt)} ` +
            `(deadline ${order.activationDeadlineDays} days)`,
        ),
      );
    else if (order.handedOutAt !== undefined)
      add(
        ["rule.expired-revoked"],
        "not activated in time → revoked",
        "REQ-15",
        "CPS 4.4.1",
        order.state !== "EXPIRED" || certificate.revocationReason !== undefined,
        clause(
          certificate.revocationReason ? "ev.state-revoked" : "ev.state",
          { state: order.state, ...(certificate.revocationReason ? { reason: certificate.revocationReason } : {}) },
          `state ${order.state}${certificate.revocationReason ? `, revoked (${certificate.revocationReason})` : ""}`,
        ),
      );
  }
  const keyOrigin = input.events.find(
    (e) => e.action === "order.produce" && e.details?.certificate === certificate.serial,
  )?.details?.keyOrigin as Record<string, unknown> | undefined;
  return {
    certificate,
    ...(order ? { order } : {}),
    ...(input.card ? { card: input.card } : {}),
    ...(keyOrigin ? { keyOrigin } : {}),
    ...(separation ? { separation } : {}),
    story,
    verdicts: v,
    verdict: v.some((x) => x.result === "fail") ? "fail" : "pass",
  };
}
