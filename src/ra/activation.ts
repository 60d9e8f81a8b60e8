import { X509Certificate, verify as verifySignature, type KeyObject } from "node:crypto";
import { publicKeyObject } from "../shared/public-key-object.js";
import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { ActivationFacts, Actor, AuditEvent, OrderStore, OrderView } from "./order.js";
import type { CardCertificates } from "./ports.js";
import { actorId, requireRole, requireScope } from "./actor-checks.js";
import { onOrder, RecentOrders, type RememberedOrder } from "./recent-orders.js";

/** The RA's fresh challenge for one order's activation; a public nonce, used once. */
export interface ActivationChallenge {
  readonly orderId: string;
  readonly certSerial: string;
  /** 32 random bytes, base64url. */
  readonly challenge: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly usedAt?: Date;
}

/** The card station's record that the holder replaced the transport PIN on the card (REQ-16). */
export interface PinReplacement {
  readonly orderId: string;
  readonly certSerial: string;
  readonly cardSerial?: string;
  readonly at: Date;
  readonly recordedBy: string;
}

/** Store port (implemented in store/): challenges and PIN replacement records, each write with its audit event. */
export interface ActivationRecords {
  /** The order's new challenge; it replaces an earlier one. */
  putChallenge(c: ActivationChallenge, audit: AuditEvent): Promise<void>;
  addPinReplacement(r: PinReplacement, audit: AuditEvent): Promise<void>;
  /** What an activation checks, in one read: the order's challenge and the latest PIN record for the certificate. */
  forActivation(
    orderId: string,
    certSerial: string,
  ): Promise<{ challenge: ActivationChallenge | undefined; pin: PinReplacement | undefined }>;
}

/** The exact bytes the card signs (ECDSA or RSA PKCS#1 v1.5 over their hash). */
export function activationMessage(orderId: string, challenge: string): Uint8Array {
  return new TextEncoder().encode(`cardpki-activation-v1:${orderId}:${challenge}`);
}

/** The hash the card uses for the certificate's key: SHA-384 for P-384, SHA-256 otherwise. */
export function activationHash(certDer: Uint8Array): "sha256" | "sha384" {
  return hashFor(new X509Certificate(certDer).publicKey);
}

const hashFor = (key: KeyObject): "sha256" | "sha384" =>
  key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "sha384" : "sha256";

/**
 * The key of an order's certificate (its SPKI as the CA store reports it) and its activation hash:
 * a key import, not OpenSSL's X509 parse of the whole certificate (twice the cost).
 */
function cardKey(spki: Uint8Array): { readonly key: KeyObject; readonly hash: "sha256" | "sha384" } {
  const key = publicKeyObject(spki);
  return { key, hash: hashFor(key) };
}

/**
 * REQ-16 at activation: the card proves it is present and its PIN was verified by signing a
 * fresh RA challenge with the key of the order's certificate (the PIV 9A key signs only after
 * VERIFY PIN); at LoA3 the card station records that the holder replaced the transport PIN on
 * the card (CHANGE REFERENCE DATA, after which the card refuses the transport PIN). The RA never
 * sees a PIN: what it checks is the signature and the station's record.
 */
export class ActivationDesk {
  /**
   * The card keys of recent challenges, by certificate serial (the CA store's key for a certificate, which never
   * changes once issued): the activation uses the key its challenge read, without reading the certificate again.
   */
  private readonly keys = new Map<string, { readonly key: KeyObject; readonly hash: "sha256" | "sha384" }>();

  constructor(
    private readonly deps: {
      orders: OrderStore;
      records: ActivationRecords;
      certs: CardCertificates;
      clock: Clock;
      random: Random;
      challengeSeconds?: number;
      /** The orders acted on last (shared with the order service). */
      recent?: RecentOrders;
    },
  ) {
    this.recent = deps.recent ?? new RecentOrders();
  }

  private readonly recent: RecentOrders;

  /** The key of the order's certificate as the CA store has it; undefined when the store has no certificate. */
  private async cardKeyOf(
    serial: string,
  ): Promise<{ readonly key: KeyObject; readonly hash: "sha256" | "sha384" } | undefined> {
    const hit = this.keys.get(serial);
    if (hit) return hit;
    const st = await this.deps.certs.status(serial);
    if (!st?.der || !st.spki) return undefined;
    const k = cardKey(st.spki);
    this.keys.set(serial, k);
    if (this.keys.size > 1024) this.keys.delete(this.keys.keys().next().value!);
    return k;
  }

  /** The order as remembered or stored (recent-orders.ts): a check that fails on a remembered one is made again. */
  private onOrder<T>(orderId: string, use: (o: RememberedOrder | undefined) => T | Promise<T>): Promise<T> {
    return onOrder(
      this.recent,
      orderId,
      (id) => this.deps.orders.load(id),
      async (o) => use(o),
    );
  }

  private handedOutOrderOf(actor: Actor, orderId: string): Promise<OrderView & { version: number }> {
    return this.onOrder(orderId, (o) => this.handedOut(actor, orderId, o));
  }

  private handedOut(actor: Actor, orderId: string, o: RememberedOrder | undefined): OrderView & { version: number } {
    if (!o || actor.kind !== "holder" || actor.personId !== o.applicantPersonId)
      throw new CaError("not-found", `no order ${orderId} of yours`, undefined, { code: "order.not-found" });
    if (o.state !== "HANDED_OUT" || !o.certSerial)
      throw new CaError(
        "conflict",
        `order ${orderId} is ${o.state}; only a handed-out card is activated`,
        { state: o.state },
        { code: "order.action-not-in-state", params: { action: "activate", state: o.state } },
      );
    if (actor.credentialSerial !== o.certSerial)
      throw new CaError(
        "policy-violation",
        "the activation challenge is given to the card of this order only (card-of-this-order, REQ-16)",
        { guard: "card-of-this-order", requirement: "REQ-16" },
        { code: "guard.card-of-this-order" },
      );
    return o;
  }

  /** A new challenge for the holder's card (presented as the TLS client certificate, still on hold). */
  async challenge(
    actor: Actor,
    orderId: string,
  ): Promise<{ orderId: string; challenge: string; message: string; hash: "sha256" | "sha384"; expiresAt: Date }> {
    const { records, clock, random } = this.deps;
    const o = await this.handedOutOrderOf(actor, orderId);
    const card = await this.cardKeyOf(o.certSerial!);
    if (!card)
      throw new CaError("not-found", `no certificate ${o.certSerial}`, undefined, { code: "certificate.not-found" });
    const now = clock.now();
    const c: ActivationChallenge = {
      orderId,
      certSerial: o.certSerial!,
      challenge: Buffer.from(random.bytes(32)).toString("base64url"),
      issuedAt: now,
      expiresAt: new Date(now.getTime() + (this.deps.challengeSeconds ?? 300) * 1000),
    };
    await records.putChallenge(
      c,
      this.event(actor, "order.activation-challenge", orderId, o.organisationId, {
        certificate: c.certSerial,
        expiresAt: c.expiresAt.toISOString(),
      }),
    );
    return {
      orderId,
      challenge: c.challenge,
      message: new TextDecoder().decode(activationMessage(orderId, c.challenge)),
      hash: card.hash,
      expiresAt: c.expiresAt,
    };
  }

  /** The card station records that the holder replaced the transport PIN on this order's card (REQ-16). */
  async recordPinReplacement(actor: Actor, orderId: string, input: { cardSerial?: string }): Promise<PinReplacement> {
    requireRole(actor, ["ca-operator", "ra-officer"], "recording a transport PIN replacement (the card station)");
    const o = await this.onOrder(orderId, (o) => {
      if (!o) throw new CaError("not-found", `no order ${orderId}`, undefined, { code: "order.not-found" });
      requireScope(actor, o.organisationId);
      if (actor.personId === o.applicantPersonId)
        throw new CaError(
          "policy-violation",
          "no officer records the PIN change of their own card (not-own-order, REQ-10)",
          { guard: "not-own-order", requirement: "REQ-10" },
          { code: "guard.not-own-order" },
        );
      if (o.state !== "HANDED_OUT" || !o.certSerial)
        throw new CaError(
          "conflict",
          `order ${orderId} is ${o.state}; the transport PIN is replaced on a handed-out card`,
          { state: o.state },
          { code: "order.action-not-in-state", params: { action: "transport-pin-replaced", state: o.state } },
        );
      return o as RememberedOrder & { certSerial: string };
    });
    const r: PinReplacement = {
      orderId,
      certSerial: o.certSerial,
      ...(input.cardSerial ? { cardSerial: input.cardSerial } : {}),
      at: this.deps.clock.now(),
      recordedBy: actorId(actor),
    };
    await this.deps.records.addPinReplacement(
      r,
      this.event(actor, "order.transport-pin-replaced", orderId, o.organisationId, {
        certificate: r.certSerial,
        cardSerial: r.cardSerial,
        evidence:
          "the card station changed the PIN from the transport PIN (CHANGE REFERENCE DATA); the RA does not see PINs",
      }),
    );
    return r;
  }

  /** What this activation request proves (the guards judge it); never throws for a bad signature. */
  async facts(
    order: OrderView,
    actor: Actor,
    signature: Uint8Array | undefined,
  ): Promise<ActivationFacts & { challenge?: string }> {
    const { records, clock } = this.deps;
    const { challenge: c, pin } = order.certSerial
      ? await records.forActivation(order.id, order.certSerial)
      : { challenge: undefined, pin: undefined };
    const pinReplaced = pin ? { pinReplaced: { at: pin.at, recordedBy: pin.recordedBy } } : {};
    const no = (refusal: string, variant: string) => ({ challengeSigned: false, refusal, variant, ...pinReplaced });
    if (!order.certSerial || actor.credentialSerial !== order.certSerial)
      return no("activation needs the card of this order", "other-card");
    if (!signature)
      return no(
        "the card must sign the RA's activation challenge (challengeSignature; GET " +
          "/holder/orders/{id}/activation-challenge)",
        "not-signed",
      );
    if (!c || c.certSerial !== order.certSerial)
      return no("no activation challenge was given to this card; ask for one first", "no-challenge");
    if (c.usedAt) return no("the activation challenge was used already; ask for a new one", "challenge-used");
    if (c.expiresAt <= clock.now())
      return no("the activation challenge has expired; ask for a new one", "challenge-expired");
    // REQ-16: the key of this order's certificate as stored
    const card = await this.cardKeyOf(order.certSerial);
    if (!card) return no("the order's certificate is not in the CA's store", "no-certificate");
    const { key, hash } = card;
    const msg = activationMessage(order.id, c.challenge);
    const ok = [undefined, "ieee-p1363" as const].some((dsaEncoding) => {
      try {
        return verifySignature(hash, msg, dsaEncoding ? { key, dsaEncoding } : key, signature);
      } catch {
        return false;
      }
    });
    return ok
      ? { challengeSigned: true, challenge: c.challenge, ...pinReplaced }
      : no("the challenge signature does not verify with the key of this order's certificate", "bad-signature");
  }

  private event(
    actor: Actor,
    action: string,
    orderId: string,
    organisationId: string,
    details: Record<string, unknown>,
  ): AuditEvent {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor: actorId(actor),
      action,
      objectType: "order",
      objectId: orderId,
      outcome: "success",
      organisationId,
      details,
    };
  }
}
