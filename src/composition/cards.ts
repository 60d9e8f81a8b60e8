import { CaError } from "../shared/ca-error.js";
import { fromHex } from "../asn1/der.js";
import { PersonalisationJob, type JobStep } from "../card/personalisation-job.js";
import { CardLifecycle } from "../card/card-lifecycle.js";
import { PcscTransport } from "../card/pcsc-transport.js";
import type { CardProduction, FactoryCredentials } from "../card/ports.js";
import type { CardChannel } from "../card/iso7816.js";
import { KnexCardStore } from "../store/card.store.js";
import type { Actor } from "../ra/order.js";
import type { RaApiDeps } from "../http/ra.routes.js";
import { aesGcmSealer } from "./card-sealer.js";
import { ownerOnlyKey } from "./key-file.js";
import type { Ra } from "./ra.js";
import type { StationParts } from "./card-station-role.js";

export interface Cards {
  readonly ledger: KnexCardStore;
  readonly production: CardProduction;
  readonly lifecycle: CardLifecycle;
  job(onStep?: (s: JobStep) => Promise<void> | void): PersonalisationJob;
  /** A PC/SC context; close it when done. */
  transport(): PcscTransport;
  /**
   * The card in `reader` (default: the configured one, else the only reader with a card) for `fn`; card, readers and
   * context closed after.
   */
  withCard<T>(reader: string | undefined, fn: (ch: CardChannel) => Promise<T>): Promise<T>;
}

/**
 * The card writer's port to the RA (order state, produce, production-failed) and the CA
 * (certificate DER), in process, for an officer the RA has authenticated (the signed-in officer of
 * the RA server's station, resolved from their client certificate): never a name typed on a
 * command line. The standalone station goes through the RA API instead (ra-api-card-production.ts).
 */
export function cardProduction(ra: Ra, actor: Actor): CardProduction {
  if (actor.kind !== "officer" || !actor.personId || (!actor.credentialSerial && !actor.organisationId))
    throw new CaError("unauthorized", "the card station acts only as an authenticated officer (REQ-22)", undefined, {
      code: "card.station-officer-needed",
    });
  return {
    async order(orderId) {
      const o = await ra.orderStore.load(orderId);
      if (!o) throw new CaError("not-found", `no order ${orderId}`, undefined, { code: "order.not-found" });
      if (o.state !== "IN_PRODUCTION")
        throw new CaError(
          "conflict",
          `order ${orderId} is ${o.state}; only an order in production gets a card`,
          { state: o.state },
          { code: "order.action-not-in-state", params: { action: "produce", state: o.state } },
        );
      const w = ra.orders.workflow(o.workflowId);
      return {
        orderId,
        holderPersonId: o.applicantPersonId,
        loa: w.loa,
        policy: { ...w.card, pinChannel: w.delivery.pin },
      }; // REQ-15: the PIN by the workflow's PIN channel
    },
    async produce(orderId, key) {
      // REQ-14: the card's attestation where it has one; otherwise the station vouches (accepted only where the
      // workflow allows it, LoA2).
      const o = await ra.orders.act(
        orderId,
        "produce",
        actor,
        key.attestation
          ? { publicKey: key.spki, attestation: key.attestation }
          : { publicKey: key.spki, keyOrigin: "card-station", cardStation: { cardSerial: key.cardSerial } },
      );
      if (!o.issued) throw new CaError("internal", `order ${orderId} was produced without a certificate`);
      return { serial: o.issued.serial, der: o.issued.der }; // the CA's answer: nothing is read back from the store
    },
    async undo(orderId, serial) {
      const o = await ra.orderStore.load(orderId);
      if (o?.state === "PRODUCED" && o.certSerial === serial)
        await ra.orders.act(orderId, "production-failed", actor, {});
      else await ra.certs.revoke(serial, "superseded", actor.personId!);
    },
    async revoke(serial, reason) {
      await ra.certs.revoke(serial, reason, actor.personId!);
    },
  };
}

export function factoryCredentials(rt: Pick<StationParts, "config">): FactoryCredentials {
  const f = rt.config.card.factory;
  return {
    pin: f.pin,
    puk: f.puk,
    managementKey: fromHex(f.managementKey.toLowerCase()),
    managementKeyAlgorithm: f.managementKeyAlgorithm,
  };
}

/**
 * Wires the card writer: ledger on the database part, secrets sealed under the card KEK, production through the
 * RA.
 */
export function openCards(rt: StationParts, ra: Ra, operator: Actor): Cards {
  return cardsWith(rt, ra.cipher, cardProduction(ra, operator));
}

/** The card writer over a given production port (in process, or the RA API for the standalone station). */
export function cardsWith(rt: StationParts, cipher: Ra["cipher"], production: CardProduction): Cards {
  const ledger = new KnexCardStore(rt.db, rt.readDb, cipher); // REQ-29: letters with PINs sealed at rest
  const sealer = aesGcmSealer(
    ownerOnlyKey(rt.config.card.kekFile, rt.random, { what: "card key-encryption key", exact: true }),
    rt.random,
  );
  const { clock, random } = rt;
  return {
    ledger,
    production,
    lifecycle: new CardLifecycle({ ledger, sealer, production, clock, random }),
    job: (onStep) =>
      new PersonalisationJob({
        production,
        ledger,
        sealer,
        factory: factoryCredentials(rt),
        clock,
        random,
        ...(onStep ? { onStep } : {}),
      }),
    transport: () => new PcscTransport(),
    async withCard(reader, fn) {
      const t = new PcscTransport();
      try {
        const ch = await t.connect(reader ?? rt.config.card.reader);
        try {
          return await fn(ch);
        } finally {
          await ch.close();
        }
      } finally {
        t.close();
      }
    },
  };
}

/** The PC/SC readers and whether each holds a card (no other part needed). */
export async function listReaders(): Promise<{ name: string; cardPresent: boolean; atr?: string }[]> {
  const t = new PcscTransport();
  try {
    return (await t.list()).map((r) => ({
      name: r.name,
      cardPresent: r.cardPresent,
      ...(r.atr ? { atr: Buffer.from(r.atr).toString("hex") } : {}),
    }));
  } finally {
    t.close();
  }
}

/**
 * The card production station attached to the RA server: readers, and personalisation by the signed-in ca-operator (the
 * RA's guards apply to them).
 */
export function cardStation(rt: StationParts, ra: Ra): NonNullable<RaApiDeps["cardStation"]> {
  let busy = false;
  return {
    readers: listReaders,
    async personalise(orderId, actor, reader) {
      if (busy)
        throw new CaError(
          "conflict",
          "the card station is personalising another card; try again when it is done",
          undefined,
          { code: "card.station-busy" },
        );
      busy = true;
      const cards = openCards(rt, ra, actor);
      const steps: string[] = [];
      try {
        const r = await cards.withCard(reader, (ch) =>
          cards.job((s) => void steps.push(s)).run(orderId, ch, `officer:${actor.personId}`),
        );
        return { ...r, steps };
      } finally {
        busy = false;
      }
    },
  };
}
