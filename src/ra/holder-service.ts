import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Workflow } from "../policy/workflow.js";
import { applicantProgress, progressWords } from "./applicant-access.js";
import { actorId } from "./actor-checks.js";
import type { Actor, OrderStore, OrderView } from "./order.js";
import type { CardCertificates } from "./ports.js";
import type { RevocationDesk, RevocationRequest } from "./revocation-desk.js";

/** The orders of one person (store port). */
export interface HolderOrders {
  ofApplicant(
    personId: string,
    limit: number,
  ): Promise<(OrderView & { readonly version: number; readonly workflowId: string })[]>;
}

/** The card ledger's part in a loss report: the card written by the card writer is barred for good. */
export interface LostCards {
  /** Bars the card personalised for this order, if the card writer made one (no-op otherwise). */
  markLost(orderId: string, actor: string): Promise<void>;
}

export type HolderAction = "activate" | "suspend" | "resume" | "revoke" | "lost";

/** One card (or order in progress) of the holder, as the holder pages show it. */
export interface HolderCard {
  readonly orderId: string;
  readonly loa: number;
  readonly purpose: "holder" | "officer";
  /** In words: "Active", "Suspended", "Waiting for activation until ..."; never internal codes alone. */
  readonly status: string;
  /**
   * Stable (`card.status.active`, `card.status.waiting` {day}, or the order's `progress.*` code): the pages word it in
   * the reader's language.
   */
  readonly statusCode: string;
  readonly statusParams: Readonly<Record<string, string | number>>;
  /** The card the holder signed in with. */
  readonly thisCard: boolean;
  readonly certificate?: {
    readonly serial: string;
    readonly status: "good" | "on-hold" | "revoked";
    readonly notAfter: Date;
  };
  readonly activationDeadline?: Date;
  readonly actions: readonly HolderAction[];
}

/** What the activation step needs: the card signed in with, and whether its order waits for activation. */
export interface PendingActivation {
  readonly pending: boolean;
  /** English words for API clients; the pages word `statusCode` (`activation.status.*`, with `statusParams`). */
  readonly status: string;
  readonly statusCode: string;
  readonly statusParams: Readonly<Record<string, string>>;
  readonly orderId?: string;
  readonly loa?: number;
  /** LoA2: the activation code sent by another channel than the card (REQ-15). */
  readonly needsActivationCode?: boolean;
  /**
   * LoA3 (REQ-16): the card signs the RA's activation challenge; the card station records the transport PIN replaced
   * first.
   */
  readonly needsChallengeSignature?: boolean;
  readonly needsStationPinRecord?: boolean;
  readonly deadline?: Date;
  /** LoA3: the holder replaces the transport PIN (REQ-16); LoA2: the PIN came by another channel. */
  readonly pin?: "transport" | "random";
}

const DAY = 86_400_000;

/** The English words of a card or activation status code (what API clients read in `status`). */
const CARD_EN: Readonly<Record<string, string>> = {
  "card.status.active": "Active",
  "card.status.suspended": "Suspended",
  "card.status.blocked": "Blocked: not activated in time",
  "card.status.revoked": "Revoked: this card can no longer be used",
  "card.status.waiting": "Waiting for activation (by {day})",
  "card.status.waiting-no-day": "Waiting for activation",
  "card.status.unknown": "Status not known: ask your registration office",
  "activation.status.active": "This card is active.",
  "activation.status.none": "This card is not waiting for activation.",
  "activation.status.pending": "This card waits for activation until {day}.",
};
const cardWords = (code: string, params: Readonly<Record<string, string | number>>) =>
  code.startsWith("progress.")
    ? progressWords(code, params)
    : (CARD_EN[code] ?? code).replace(/\{(\w+)\}/g, (m, k: string) =>
        params[k] === undefined ? m : String(params[k]),
      );
const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The holder's own pages (REQ-16, REQ-17): their cards and each certificate's status, the activation
 * of the card they signed in with, suspension, resumption and revocation through the revocation desk
 * (rate limits and alarms, REQ-18), and a loss report (revoked keyCompromise, the card barred).
 */
export class HolderService {
  constructor(
    private readonly deps: {
      orders: HolderOrders & Pick<OrderStore, "byCertificate">;
      certs: CardCertificates;
      workflows: ReadonlyMap<string, Workflow>;
      desk: RevocationDesk;
      clock: Clock;
      cards?: LostCards;
    },
  ) {}

  private holder(actor: Actor): { personId: string; serial: string } {
    if (actor.kind !== "holder" || !actor.personId || !actor.credentialSerial)
      throw new CaError("forbidden", "the holder pages are for eID holders, signed in with their card", undefined, {
        code: "holder.eid-needed",
      });
    return { personId: actor.personId, serial: actor.credentialSerial };
  }

  private deadline(w: Workflow | undefined, o: OrderView): Date | undefined {
    return w && o.handedOutAt ? new Date(o.handedOutAt.getTime() + w.activationDeadlineDays * DAY) : undefined;
  }

  async cards(actor: Actor): Promise<HolderCard[]> {
    const me = this.holder(actor);
    const orders = await this.deps.orders.ofApplicant(me.personId, 50);
    const out: HolderCard[] = [];
    for (const o of orders) {
      const w = this.deps.workflows.get(o.workflowId);
      const st = o.certSerial ? await this.deps.certs.status(o.certSerial) : undefined;
      const thisCard = o.certSerial === me.serial;
      const deadline = o.state === "HANDED_OUT" ? this.deadline(w, o) : undefined;
      const live = st && st.status !== "revoked" && (o.state === "ACTIVE" || o.state === "HANDED_OUT");
      const actions: HolderAction[] = [];
      if (o.state === "HANDED_OUT" && thisCard) actions.push("activate");
      if (live && st.status === "good") actions.push("suspend");
      if (live && st.status === "on-hold" && o.state === "ACTIVE" && !thisCard) actions.push("resume");
      if (live) actions.push("revoke", "lost");
      const progress = w ? applicantProgress(w, o) : undefined;
      const [statusCode, statusParams]: [string, Record<string, string | number>] =
        st?.status === "revoked"
          ? [o.state === "EXPIRED" ? "card.status.blocked" : "card.status.revoked", {}]
          : o.state === "ACTIVE"
            ? [st?.status === "on-hold" ? "card.status.suspended" : "card.status.active", {}]
            : o.state === "HANDED_OUT"
              ? deadline
                ? ["card.status.waiting", { day: day(deadline) }]
                : ["card.status.waiting-no-day", {}]
              : progress
                ? [progress.statusCode, progress.statusParams]
                : ["card.status.unknown", {}];
      out.push({
        orderId: o.id,
        loa: w?.loa ?? 0,
        purpose: o.purpose,
        status: cardWords(statusCode, statusParams),
        statusCode,
        statusParams,
        thisCard,
        actions,
        ...(st ? { certificate: { serial: st.serial, status: st.status, notAfter: st.notAfter } } : {}),
        ...(deadline ? { activationDeadline: deadline } : {}),
      });
    }
    return out;
  }

  /** REQ-16: the activation step for the card signed in with (the only step a card held until activation may take). */
  async activation(actor: Actor): Promise<PendingActivation> {
    const me = this.holder(actor);
    const o = await this.deps.orders.byCertificate(me.serial);
    if (!o)
      throw new CaError("not-found", "the card you signed in with belongs to no card order", undefined, {
        code: "holder.no-order",
      });
    const w = this.deps.workflows.get(o.workflowId);
    if (o.state !== "HANDED_OUT" || !w) {
      const statusCode = o.state === "ACTIVE" ? "activation.status.active" : "activation.status.none";
      return { pending: false, status: cardWords(statusCode, {}), statusCode, statusParams: {} };
    }
    const deadline = this.deadline(w, o)!;
    const activate = w.transitions.find((t) => t.action === "activate");
    return {
      pending: true,
      orderId: o.id,
      loa: w.loa,
      deadline,
      pin: w.card.pin,
      needsActivationCode: activate?.guards.includes("activation-code-correct") ?? false,
      // REQ-16 (LoA3): the card signs the RA's challenge after the card station recorded the transport PIN replaced.
      needsChallengeSignature: activate?.guards.includes("activation-challenge-signed") ?? false,
      needsStationPinRecord: activate?.guards.includes("transport-pin-replaced") ?? false,
      status: cardWords("activation.status.pending", { day: day(deadline) }),
      statusCode: "activation.status.pending",
      statusParams: { day: day(deadline) },
    };
  }

  async resume(actor: Actor, serial: string): Promise<RevocationRequest> {
    this.holder(actor);
    return this.deps.desk.holderResume(actor, serial);
  }

  /** A card reported lost or stolen: revoked keyCompromise through the desk (rate-limited), and the card barred. */
  async lost(actor: Actor, serial: string): Promise<RevocationRequest & { lost: true }> {
    this.holder(actor);
    const r = await this.deps.desk.holderRequest(actor, serial, "keyCompromise");
    const o = await this.deps.orders.byCertificate(r.serial);
    if (o && this.deps.cards) await this.deps.cards.markLost(o.id, actorId(actor));
    return { ...r, lost: true };
  }
}
