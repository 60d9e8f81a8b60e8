import { timingSafeEqual } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import { sha256Hex } from "../shared/digest.js";
import type { AuditEvent } from "../ca/ports.js";
import type { OrderState, Workflow } from "../policy/workflow.js";
import type { TermsInLanguages, TermsOfUse } from "../policy/terms.js";
import { transitionFrom } from "./workflow-engine.js";
import type { ActionRequest, OrderService } from "./order-service.js";
import type { Actor, OrderStore, OrderView } from "./order.js";

/** A stored applicant session: hashes of its id and CSRF token, and of the link token it was opened with. */
export interface ApplicantSessionRecord {
  readonly orderId: string;
  readonly tokenHash: string;
  readonly csrfHash: string;
  readonly created: number;
  readonly expires: number;
}

/** An exchange attempt (the rate limits count the refused ones, REQ-18). */
export interface LinkAttempt {
  readonly orderId: string;
  readonly ip: string;
  readonly at: Date;
  readonly reason: string;
}

/** Store port (implemented in store/): used link tokens, applicant sessions and refused attempts; hashes only. */
export interface ApplicantAccessStore {
  /** The hash of the order's applicant token and when it was issued; undefined for an unknown order. */
  link(orderId: string): Promise<{ readonly tokenHash: string; readonly issuedAt: Date } | undefined>;
  /**
   * Marks the token used and stores the session, with its audit event, in one transaction; false when the token was
   * used before.
   */
  exchange(tokenHash: string, idHash: string, session: ApplicantSessionRecord, audit: AuditEvent): Promise<boolean>;
  /** Marks a token used (the API's one-shot path); false when it was used before. */
  markUsed(tokenHash: string, orderId: string, at: Date): Promise<boolean>;
  used(tokenHash: string): Promise<boolean>;
  session(idHash: string): Promise<ApplicantSessionRecord | undefined>;
  deleteSession(idHash: string): Promise<void>;
  deleteExpiredSessions(now: number): Promise<void>;
  /** A refused attempt and its audit event. */
  refused(a: LinkAttempt, audit: AuditEvent): Promise<void>;
  refusedForOrder(orderId: string, since: Date): Promise<number>;
  refusedFromIp(ip: string, since: Date): Promise<number>;
  /** An audit event on its own (the rate-limit alarm). */
  alarm(audit: AuditEvent): Promise<void>;
}

export interface ApplicantPolicy {
  /** REQ-06: the link is valid this long after the order was placed. */
  readonly linkMs: number;
  /** A session lasts this long after the exchange (not extended by use). */
  readonly sessionMs: number;
  /** REQ-18: refused attempts on one order within the window before further ones are refused outright. */
  readonly perOrderRefusals: number;
  /** REQ-18: refused attempts from one IP address within the window. */
  readonly perIpRefusals: number;
  readonly windowMs: number;
}

export const DEFAULT_APPLICANT_POLICY: ApplicantPolicy = {
  linkMs: 7 * 86_400_000,
  sessionMs: 30 * 60_000,
  perOrderRefusals: 5,
  perIpRefusals: 20,
  windowMs: 3_600_000,
};

/** A live applicant session as the routes see it. */
export interface ApplicantSession {
  readonly orderId: string;
  /** Hash of the link token the session was opened with (what the applicant-token guard compares). */
  readonly tokenHash: string;
  readonly expiresAt: Date;
  csrfMatches(token: string): boolean;
}

/** One step: `code` is stable (the pages word it from their catalogue), `label` its English words for API clients. */
export type ProgressStep = {
  readonly code: string;
  readonly label: string;
  readonly state: "done" | "current" | "to do";
};

/** The order as its applicant sees it: plain words, no ids, hashes or officer names. */
export interface ApplicantProgress {
  /** English words for API clients; the pages word `statusCode` (with `statusParams`) in the reader's language. */
  readonly status: string;
  /** Stable: `progress.<situation>` (e.g. `progress.TERMS_ACCEPTED.many`). */
  readonly statusCode: string;
  readonly statusParams: Readonly<Record<string, number>>;
  readonly loa: number;
  readonly steps: readonly ProgressStep[];
  readonly termsAccepted: string | null;
  readonly canAcceptTerms: boolean;
  readonly canCancel: boolean;
  readonly closed: boolean;
}

const APPLICANT: Actor = { kind: "applicant", roles: [] };
const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
const TOKEN = /^[A-Za-z0-9]{16,64}$/;

/**
 * The applicant's own path (REQ-06): the link sent to them carries a single-use token that expires;
 * the applicant page exchanges it once for a short session bound to the order, in which they read
 * the current terms, accept them (never pre-ticked), follow the order and cancel it. The store keeps
 * only hashes; refused attempts are rate-limited per order and per IP address, with an alarm in the
 * audit trail (REQ-18). The workflow's guards still decide every step (applicant-token,
 * terms-version-current).
 */
export class ApplicantAccess {
  private readonly policy: ApplicantPolicy;

  constructor(
    private readonly deps: {
      store: ApplicantAccessStore;
      orders: OrderStore;
      service: OrderService;
      workflows: ReadonlyMap<string, Workflow>;
      /** The current version's terms: English, or English and its translations by language. */
      terms: TermsOfUse | TermsInLanguages;
      clock: Clock;
      random: Random;
      policy?: Partial<ApplicantPolicy>;
    },
  ) {
    this.policy = { ...DEFAULT_APPLICANT_POLICY, ...deps.policy };
    this.texts =
      "version" in deps.terms ? new Map([[deps.terms.language ?? "en", deps.terms as TermsOfUse]]) : deps.terms;
    if (!this.texts.has("en")) throw new CaError("config", "the terms of use need their English text (the original)");
  }

  private readonly texts: TermsInLanguages;

  /**
   * The terms of the current version in `language` when written in it, else in English; with the text's SHA-256 the
   * acceptance names.
   */
  terms(language = "en"): { version: string; title: string; text: string; lang: string; sha256: string } {
    const t = this.texts.get(language) ?? this.texts.get("en")!;
    return { version: t.version, title: t.title, text: t.text, lang: t.language, sha256: t.sha256 };
  }

  get sessionSeconds(): number {
    return Math.round(this.policy.sessionMs / 1000);
  }

  private event(
    action: string,
    orderId: string,
    outcome: "success" | "failure",
    details: Record<string, unknown>,
  ): AuditEvent {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor: "applicant",
      action,
      objectType: "order",
      objectId: orderId,
      outcome,
      details,
    };
  }

  /** REQ-18: too many refused attempts on this order or from this address: refused outright, with an alarm. */
  private async limit(orderId: string, ip: string): Promise<void> {
    const { store, clock } = this.deps;
    const since = new Date(clock.now().getTime() - this.policy.windowMs);
    const [byOrder, byIp] = await Promise.all([store.refusedForOrder(orderId, since), store.refusedFromIp(ip, since)]);
    const over =
      byOrder >= this.policy.perOrderRefusals
        ? { key: "order", limit: this.policy.perOrderRefusals }
        : byIp >= this.policy.perIpRefusals
          ? { key: "ip", limit: this.policy.perIpRefusals }
          : undefined;
    if (!over) return;
    await store.alarm(
      this.event(`applicant.alarm.link-rate-${over.key}`, orderId, "failure", {
        ip,
        limit: over.limit,
        windowMinutes: this.policy.windowMs / 60_000,
      }),
    );
    throw new CaError(
      "rate-limited",
      `too many failed attempts with applicant links ` +
        `${over.key === "order" ? "for this order" : "from your network"}; try again ` +
        `later or contact your registration office (REQ-18)`,
      { retryAfterSeconds: Math.round(this.policy.windowMs / 1000), requirement: "REQ-18" },
      { code: "applicant.too-many-attempts", params: { from: over.key } },
    );
  }

  private async refuse(orderId: string, ip: string, reason: string, error: CaError): Promise<never> {
    await this.deps.store.refused(
      { orderId, ip, at: this.deps.clock.now(), reason },
      this.event("applicant.link.refused", orderId, "failure", { reason, ip }),
    );
    throw error;
  }

  /**
   * The link's token judged against the order: undefined when it is the order's token, still unused and unexpired; else
   * the refusal.
   */
  private async judge(orderId: string, tokenHash: string): Promise<{ reason: string; error: CaError } | undefined> {
    const { store, clock } = this.deps;
    const link = await store.link(orderId);
    if (!link || !sameHash(link.tokenHash, tokenHash))
      return {
        reason: "not-this-order",
        error: new CaError(
          "forbidden",
          "this link is not valid for this order: open the link from the message you received, unchanged (REQ-06)",
          { requirement: "REQ-06" },
          { code: "applicant.link-not-this-order" },
        ),
      };
    if (await store.used(tokenHash))
      return {
        reason: "used",
        error: new CaError(
          "conflict",
          "this link has already been used: it works only once. If that was not you, " +
            "contact your registration office (REQ-06)",
          { requirement: "REQ-06" },
          { code: "applicant.link-used" },
        ),
      };
    const expires = link.issuedAt.getTime() + this.policy.linkMs;
    if (clock.now().getTime() > expires)
      return {
        reason: "expired",
        error: new CaError(
          "forbidden",
          `this link expired on ` +
            `${new Date(expires).toISOString().slice(0, 16).replace("T", " ")} UTC; ask ` +
            `your registration office for a new order (REQ-06)`,
          { requirement: "REQ-06" },
          { code: "applicant.link-expired", params: { expiredAt: new Date(expires).toISOString() } },
        ),
      };
    return undefined;
  }

  /** The applicant page opens the link: the token is used up and exchanged for a session bound to the order. */
  async exchange(
    orderId: string,
    token: string,
    ip: string,
  ): Promise<{ id: string; csrf: string; expiresAt: Date; progress: ApplicantProgress }> {
    const { store, clock, random } = this.deps;
    await this.limit(orderId, ip);
    const tokenHash = sha256Hex(TOKEN.test(token) ? token : "");
    const bad = await this.judge(orderId, tokenHash);
    if (bad) return this.refuse(orderId, ip, bad.reason, bad.error);
    const now = clock.now().getTime();
    await store.deleteExpiredSessions(now);
    const id = Buffer.from(random.bytes(32)).toString("base64url");
    const csrf = Buffer.from(random.bytes(32)).toString("base64url");
    const rec: ApplicantSessionRecord = {
      orderId,
      tokenHash,
      csrfHash: sha256Hex(csrf),
      created: now,
      expires: now + this.policy.sessionMs,
    };
    if (
      !(await store.exchange(
        tokenHash,
        sha256Hex(id),
        rec,
        this.event("applicant.link.open", orderId, "success", { ip, sessionMinutes: this.policy.sessionMs / 60_000 }),
      ))
    )
      return this.refuse(
        orderId,
        ip,
        "used",
        new CaError(
          "conflict",
          "this link has already been used: it works only once (REQ-06)",
          { requirement: "REQ-06" },
          { code: "applicant.link-used" },
        ),
      );
    return { id, csrf, expiresAt: new Date(rec.expires), progress: await this.progressOf(orderId) };
  }

  /** The live session for a cookie value; undefined when unknown or expired. */
  async session(id: string): Promise<ApplicantSession | undefined> {
    if (!id || id.length > 128) return undefined;
    const key = sha256Hex(id);
    const s = await this.deps.store.session(key);
    if (!s) return undefined;
    if (this.deps.clock.now().getTime() >= s.expires) {
      await this.deps.store.deleteSession(key);
      return undefined;
    }
    return {
      orderId: s.orderId,
      tokenHash: s.tokenHash,
      expiresAt: new Date(s.expires),
      csrfMatches: (t) => sameHash(sha256Hex(t), s.csrfHash),
    };
  }

  async close(id: string): Promise<void> {
    if (id && id.length <= 128) await this.deps.store.deleteSession(sha256Hex(id));
  }

  async progress(s: ApplicantSession): Promise<ApplicantProgress> {
    return this.progressOf(s.orderId);
  }

  /**
   * REQ-06: acceptance of the version shown, actively ticked, in the language it was shown in
   * (`termsLanguage`, English when absent); the order service audits it with the version, the
   * language and the text's SHA-256. A `termsSha256` that is not the text's (the text changed
   * since it was shown) is refused.
   */
  async acceptTerms(
    s: ApplicantSession,
    input: { termsVersion: string; accepted: boolean; termsLanguage?: string; termsSha256?: string },
  ): Promise<ApplicantProgress> {
    const shown = this.shownTerms(input.termsLanguage, input.termsSha256);
    await this.deps.service.act(s.orderId, "accept-terms", APPLICANT, {
      applicantTokenHash: s.tokenHash,
      termsVersion: input.termsVersion,
      accepted: input.accepted,
      termsText: shown,
    });
    return this.progressOf(s.orderId);
  }

  private shownTerms(language = "en", sha256?: string): { language: string; sha256: string } {
    const t = this.texts.get(language);
    if (!t)
      throw new CaError(
        "invalid-input",
        `the terms are not written in '${language}' (${[...this.texts.keys()].join(", ")})`,
        undefined,
        { code: "applicant.terms-language" },
      );
    if (sha256 !== undefined && sha256.toLowerCase() !== t.sha256)
      throw new CaError(
        "conflict",
        "the terms changed after they were shown: read them again and accept the text now shown (REQ-06)",
        { requirement: "REQ-06" },
        { code: "applicant.terms-changed" },
      );
    return { language: t.language, sha256: t.sha256 };
  }

  async cancel(s: ApplicantSession): Promise<ApplicantProgress> {
    await this.deps.service.act(s.orderId, "cancel", APPLICANT, { applicantTokenHash: s.tokenHash });
    return this.progressOf(s.orderId);
  }

  /**
   * The API's one-shot path (a client that holds the token and posts it with the step): the same
   * checks as the exchange (unused, unexpired, rate limits); a step that succeeds uses the token up.
   */
  async actWithToken(
    orderId: string,
    action: "accept-terms" | "cancel",
    token: string,
    request: Omit<ActionRequest, "applicantToken" | "applicantTokenHash">,
    ip: string,
  ): Promise<OrderView & { version: number }> {
    const { store, service, clock } = this.deps;
    await this.limit(orderId, ip);
    const tokenHash = sha256Hex(token);
    const bad = await this.judge(orderId, tokenHash);
    if (bad && bad.reason !== "not-this-order") return this.refuse(orderId, ip, bad.reason, bad.error);
    let done;
    try {
      // REQ-06: an API client accepts the English original (the text it could read).
      done = await service.act(orderId, action, APPLICANT, {
        ...request,
        applicantToken: token,
        ...(action === "accept-terms" ? { termsText: this.shownTerms("en") } : {}),
      });
    } catch (e) {
      // the engine's refusal (applicant-token), counted
      if (bad) await this.refuse(orderId, ip, bad.reason, e as CaError);
      throw e;
    }
    await store.markUsed(tokenHash, orderId, clock.now());
    return done;
  }

  private async progressOf(orderId: string): Promise<ApplicantProgress> {
    const o = await this.deps.orders.load(orderId);
    if (!o) throw new CaError("not-found", "the order no longer exists", undefined, { code: "order.not-found" });
    const w = this.deps.workflows.get(o.workflowId);
    if (!w)
      throw new CaError(
        "config",
        `order ${orderId} follows workflow '${o.workflowId}', which is not loaded`,
        undefined,
        { code: "order.workflow-missing" },
      );
    return applicantProgress(w, o);
  }
}

const STEPS = [
  ["progress.step.terms", "Accept the terms of use"],
  ["progress.step.identify", "Identification in person"],
  ["progress.step.approve", "Approval"],
  ["progress.step.produce", "Card production"],
  ["progress.step.hand-out", "Hand-out of the card"],
  ["progress.step.activate", "Activation of the card"],
] as const;
const BY_EID = ["progress.step.identify-by-eid", "Identification with your current eID"] as const;

/** The steps of an order and where it stands, in words an applicant understands (no ids, no officer names). */
export function applicantProgress(w: Workflow, o: OrderView & { workflowId: string }): ApplicantProgress {
  const identifiers = new Set(o.identifications.filter((i) => !i.byEid).map((i) => i.officerId)).size;
  const byEid = o.identifications.some((i) => i.byEid);
  const identified = byEid || identifiers >= w.identifications;
  const byMail = w.transitions.some((t) => t.action === "send-by-mail");
  const n = w.identifications;
  const texts: Record<OrderState, [number, string, Record<string, number>?]> = {
    REQUESTED: [0, "progress.REQUESTED"],
    TERMS_ACCEPTED: [
      1,
      o.renewalOf
        ? "progress.TERMS_ACCEPTED.renewal"
        : n === 1
          ? "progress.TERMS_ACCEPTED.one"
          : "progress.TERMS_ACCEPTED.many",
      { n },
    ],
    IDENTIFIED: identified ? [2, "progress.IDENTIFIED"] : [1, "progress.IDENTIFIED.partly", { done: identifiers, n }],
    APPROVED: [3, "progress.APPROVED"],
    IN_PRODUCTION: [3, "progress.IN_PRODUCTION"],
    PRODUCING: [3, "progress.IN_PRODUCTION"],
    PRODUCED: [4, byMail ? "progress.PRODUCED.mail" : "progress.PRODUCED"],
    HANDED_OUT: [5, "progress.HANDED_OUT"],
    ACTIVE: [6, "progress.ACTIVE"],
    REJECTED: [-1, "progress.REJECTED"],
    CANCELLED: [-1, "progress.CANCELLED"],
    EXPIRED: [-1, "progress.EXPIRED"],
  };
  const [at, statusCode, statusParams = {}] = texts[o.state];
  const labels = STEPS.map((l, i) => (i === 1 && o.renewalOf ? BY_EID : l));
  return {
    status: progressWords(statusCode, statusParams),
    statusCode,
    statusParams,
    loa: w.loa,
    steps:
      at < 0
        ? []
        : labels.map(([code, label], i) => ({ code, label, state: i < at ? "done" : i === at ? "current" : "to do" })),
    termsAccepted: o.termsVersion ?? null,
    canAcceptTerms: transitionFrom(w, o.state, "accept-terms") !== undefined,
    canCancel: transitionFrom(w, o.state, "cancel") !== undefined,
    closed: at < 0,
  };
}

/** The English words of a progress code (what API clients read in `status`). */
const PROGRESS_EN: Readonly<Record<string, string>> = {
  "progress.REQUESTED": "Your card order is waiting for you: read the terms of use below and accept them.",
  "progress.TERMS_ACCEPTED.renewal":
    "You accepted the terms. Next you confirm your identity with your current eID card.",
  "progress.TERMS_ACCEPTED.one":
    "You accepted the terms. Next, visit your registration office with a " +
    "passport, national ID card or driving licence: an officer identifies you in " +
    "person.",
  "progress.TERMS_ACCEPTED.many":
    "You accepted the terms. Next, visit your registration office with a " +
    "passport, national ID card or driving licence: {n} different officers " +
    "identify you in person.",
  "progress.IDENTIFIED": "You have been identified. Your order is waiting for approval.",
  "progress.IDENTIFIED.partly":
    "You have been identified by {done} of {n} officers; one more identification " +
    "in person by a different officer is needed.",
  "progress.APPROVED": "Your order is approved. Your card will be made.",
  "progress.IN_PRODUCTION": "Your card is being made.",
  "progress.PRODUCED": "Your card is ready. It is handed to you in person after you identify again.",
  "progress.PRODUCED.mail":
    "Your card is ready. It is handed to you in person after you identify again, or sent to you by mail.",
  "progress.HANDED_OUT":
    "Your card has been handed out. Activate it on the holder pages with the " +
    "card itself before the activation time runs out.",
  "progress.ACTIVE": "Your card is active.",
  "progress.REJECTED": "The registration office rejected this card order.",
  "progress.CANCELLED": "This card order was cancelled.",
  "progress.EXPIRED": "The card was not made, handed out or activated in time and has been blocked.",
};

/** `{name}` placeholders filled from `params`. */
export function progressWords(code: string, params: Readonly<Record<string, unknown>> = {}): string {
  return (PROGRESS_EN[code] ?? code).replace(/\{(\w+)\}/g, (m, k: string) =>
    params[k] === undefined ? m : String(params[k]),
  );
}
