import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import { PRE_CERTIFICATE_STATES, type Transition, type Workflow } from "../policy/workflow.js";
import type { Actor, AuditEvent, OrderChange, OrderStore, OrderView } from "./order.js";
import type { CardCertificateRequest, CardCertificates, LinkedOrderChange, ProductionLink } from "./ports.js";
import { actorId } from "./actor-checks.js";

/** What production hands back: the certificate as signed (contract: the CA returns the DER). */
export interface IssuedCard {
  readonly serial: string;
  readonly notAfter: Date;
  readonly der: Uint8Array;
}

/** One transition to carry out with its certificate effects (declared in the workflow data). */
export interface EffectContext {
  readonly order: OrderView & { readonly version: number };
  readonly workflow: Workflow;
  readonly transition: Transition;
  readonly actor: Actor;
  readonly change: OrderChange;
  readonly audit: AuditEvent;
  /** The certificate to issue (only called for issue-certificate-on-hold). */
  readonly certificateRequest: () => Promise<CardCertificateRequest>;
}

const RECOVERY = "system:production-recovery";
/** A production still in PRODUCING after this long is taken for dead (another process's saga is never that slow). */
const STALE_MS = 5 * 60_000;
/**
 * Card certificates younger than this are not judged orphans (operator steps like bootstrap-staff link them a moment
 * later).
 */
const ORPHAN_GRACE_MS = 10 * 60_000;

/**
 * The certificate side of every order transition, by the effects the workflow declares
 * (REQ-14/15/16):
 * - `issue-certificate-on-hold`: production as one crash-safe saga: (1) reserve the serial and
 *   move the order to PRODUCING naming it, one transaction; (2) sign in the HSM; (3) store the
 *   certificate on hold (certificateHold, cause activation) and move the order to PRODUCED, one
 *   transaction. A crash leaves a reserved serial and a PRODUCING order, which recovery
 *   compensates; nothing leaves a valid certificate no order names.
 * - `release-certificate`: the activation hold is lifted in the transaction that activates the order.
 * - `revoke-certificate`: the certificate is revoked in the transaction that moves the order on.
 * Compensation lives here only (compensate), used by the saga itself, start-up recovery and the
 * periodic sweep.
 */
export class ProductionSaga {
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly deps: {
      orders: OrderStore;
      certs: CardCertificates;
      workflows: ReadonlyMap<string, Workflow>;
      clock: Clock;
      random: Random;
    },
  ) {}

  private event(
    order: Pick<OrderView, "id" | "organisationId">,
    actor: string,
    action: string,
    details: Record<string, unknown>,
    policy?: string,
  ): AuditEvent {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor,
      action,
      objectType: "order",
      objectId: order.id,
      outcome: "success",
      organisationId: order.organisationId,
      ...(policy ? { policy } : {}),
      details,
    };
  }

  /**
   * Writes the transition with its effects; `ok: false` when the order changed meanwhile. Then nothing
   * was written, except where `effects` says a production got as far as signing (and was compensated).
   */
  async apply(ctx: EffectContext): Promise<{ ok: boolean; change: OrderChange; issued?: IssuedCard; effects?: true }> {
    const { order, transition, actor, change, audit } = ctx;
    const { certs, orders } = this.deps;
    const effects = transition.effects ?? [];
    if (effects.includes("issue-certificate-on-hold")) return this.produce(ctx);
    if (effects.includes("release-certificate")) {
      if (!order.certSerial)
        throw new CaError("conflict", `order ${order.id} has no certificate to release`, undefined, {
          code: "order.no-certificate",
        });
      return { ok: await certs.release(order.certSerial, actorId(actor), { change, audit }), change };
    }
    if (effects.includes("revoke-certificate") && order.certSerial) {
      // Back to a state before production: the order no longer has a certificate (a new one comes with the next
      // production).
      const c: OrderChange = PRE_CERTIFICATE_STATES.includes(change.to) ? { ...change, certSerial: null } : change;
      const a: AuditEvent = {
        ...audit,
        details: { ...audit.details, revoked: order.certSerial, reason: transition.revocationReason },
      };
      return {
        ok: await certs.revoke(order.certSerial, transition.revocationReason!, actorId(actor), { change: c, audit: a }),
        change: c,
      };
    }
    return { ok: await orders.apply(change, audit), change };
  }

  private async produce(
    ctx: EffectContext,
  ): Promise<{ ok: boolean; change: OrderChange; issued?: IssuedCard; effects?: true }> {
    const { order, workflow, actor, change, audit } = ctx;
    const { certs, clock } = this.deps;
    const request = { ...(await ctx.certificateRequest()), onHoldUntilActivation: true };
    const policy = `${workflow.id}@${workflow.version}`;
    const at = clock.now();
    let reserved: string | undefined;
    let final: OrderChange | undefined;
    const link: ProductionLink = {
      reserved: (serial) => {
        reserved = serial;
        // PRODUCING keeps the IN_PRODUCTION deadline running (stateSince unchanged).
        return {
          change: { orderId: order.id, expectedVersion: order.version, to: "PRODUCING", at, certSerial: serial },
          audit: this.event(
            order,
            actorId(actor),
            "order.production.reserve",
            { from: order.state, to: "PRODUCING", certificate: serial },
            policy,
          ),
        };
      },
      issued: (serial, facts) => {
        final = { ...change, expectedVersion: order.version + 1, certSerial: serial };
        return {
          change: final,
          audit: {
            ...audit,
            details: {
              ...audit.details,
              certificate: serial,
              onHold: "certificateHold until activation (REQ-16)",
              ...(facts?.emailSanOmitted
                ? { emailSan: "omitted: outside the organisation's validated domains (REQ-01)" }
                : {}),
            },
          },
        };
      },
      failed: (serial) => ({
        change: {
          orderId: order.id,
          expectedVersion: order.version + 1,
          to: order.state,
          at: clock.now(),
          certSerial: null,
        },
        audit: this.event(
          order,
          actorId(actor),
          "order.production.fail",
          { from: "PRODUCING", to: order.state, certificate: serial, why: "the HSM did not sign" },
          policy,
        ),
      }),
    };
    this.inFlight.add(order.id);
    try {
      const issued = await certs.issue(request, link);
      return { ok: true, change: final!, issued };
    } catch (e) {
      if (reserved)
        // recovery repeats it
        await this.compensate(order.id, reserved, actorId(actor), (e as Error).message).catch(() => undefined);
      // Lost at the reserve: nothing was written. Lost at the completion (`final` built): signed and compensated.
      if (CaError.is(e, "conflict") && e.details?.final === true)
        return { ok: false, change, ...(final ? { effects: true as const } : {}) };
      throw e;
    } finally {
      this.inFlight.delete(order.id);
    }
  }

  /**
   * The one compensation of a production that did not complete: the serial, if still reserved
   * (perhaps signed), is published as revoked, an issued one is revoked, and an order still in
   * PRODUCING with that serial goes back to IN_PRODUCTION, all in one transaction. Idempotent; a
   * production that completed after all is left alone.
   */
  async compensate(orderId: string, serial: string, actor: string, why: string): Promise<void> {
    const { orders, certs, clock } = this.deps;
    for (let attempt = 0; attempt < 3; attempt++) {
      const o = await orders.load(orderId);
      // completed
      if (o && o.certSerial === serial && o.state !== "PRODUCING" && !PRE_CERTIFICATE_STATES.includes(o.state)) return;
      const link: LinkedOrderChange | undefined =
        o && o.state === "PRODUCING" && o.certSerial === serial
          ? {
              change: { orderId, expectedVersion: o.version, to: "IN_PRODUCTION", at: clock.now(), certSerial: null },
              audit: this.event(o, actor, "order.production.compensate", {
                from: "PRODUCING",
                to: "IN_PRODUCTION",
                certificate: serial,
                why,
              }),
            }
          : undefined;
      if (await certs.abandon(serial, actor, link)) return;
    }
    throw new CaError(
      "conflict",
      `order ${orderId} kept changing while its production ${serial} was compensated`,
      undefined,
      { code: "order.changed-meanwhile" },
    );
  }

  /**
   * Recovery (at start, staleMs 0, and periodically): every order left in PRODUCING is
   * compensated, and every card certificate that is good or on hold while no order in
   * PRODUCED/HANDED_OUT/ACTIVE (or an officer credential) names it is revoked.
   */
  async recover(
    opts: { staleMs?: number; orphanGraceMs?: number; orphanWindowMs?: number; batch?: number } = {},
  ): Promise<{ compensated: string[]; revoked: string[]; failed: string[] }> {
    const { orders, certs, workflows, clock } = this.deps;
    const now = clock.now().getTime();
    const batch = opts.batch ?? 500;
    const compensated: string[] = [];
    const revoked: string[] = [];
    const failed: string[] = [];
    // At least staleMs in PRODUCING (0 at start: every one left by the last process).
    for (const id of await orders.inStateSince("PRODUCING", new Date(now - (opts.staleMs ?? STALE_MS) + 1), batch)) {
      if (this.inFlight.has(id)) continue;
      const o = await orders.load(id);
      if (!o?.certSerial || o.state !== "PRODUCING") continue;
      try {
        await this.compensate(
          id,
          o.certSerial,
          RECOVERY,
          "the production did not complete (the process stopped, or it timed out)",
        );
        compensated.push(id);
      } catch {
        failed.push(id);
      }
    }
    const profiles = [...new Set([...[...workflows.values()].flatMap((w) => w.profiles), "ra-officer"])];
    const window = {
      createdBefore: new Date(now - (opts.orphanGraceMs ?? ORPHAN_GRACE_MS)),
      ...(opts.orphanWindowMs !== undefined ? { createdAfter: new Date(now - opts.orphanWindowMs) } : {}),
    };
    for (const c of await orders.orphanCertificates(profiles, window, batch)) {
      const w = c.workflowId ? workflows.get(c.workflowId) : undefined;
      try {
        await certs.revoke(
          c.serial,
          c.orderState === "EXPIRED" && w ? w.expiryRevocationReason : "superseded",
          RECOVERY,
        );
        revoked.push(c.serial);
      } catch {
        failed.push(c.serial);
      }
    }
    return { compensated, revoked, failed };
  }
}
