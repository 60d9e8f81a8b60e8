import { templateBody } from "../shared/message-template.js";
import { X509Certificate } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { CardChannel } from "./iso7816.js";
import { OBJECT, PivCard, type Slot } from "./piv-card.js";
import { randomDigits } from "./personalisation-job.js";
import type { CardAuditEvent, CardLedger, CardProduction, CardRecord, HolderLetter, SecretSealer } from "./ports.js";

const SLOTS: readonly Slot[] = ["9a", "9c", "9d", "9e"];

export interface CardStatus {
  readonly reader: string;
  readonly atr: string;
  readonly serial: string | undefined;
  readonly version: string | undefined;
  readonly pinTriesLeft: number | "verified";
  readonly certificates: {
    readonly slot: Slot;
    readonly subject: string;
    readonly serial: string;
    readonly notAfter: string;
  }[];
  readonly record: Omit<CardRecord, "managementKeySealed" | "managementKeyNextSealed" | "pukSealed"> | undefined;
}

/** After personalisation: status, officer-assisted unblock, the holder's own PIN, retirement (zeroise). */
export class CardLifecycle {
  constructor(
    private readonly deps: {
      ledger: CardLedger;
      sealer: SecretSealer;
      production: CardProduction;
      clock: Clock;
      random: Random;
    },
  ) {}

  private async open(channel: CardChannel): Promise<{ piv: PivCard; serial: string; record: CardRecord | undefined }> {
    const piv = await PivCard.open(channel, this.deps.random);
    const serial = await piv.cardSerial();
    return { piv, serial, record: serial ? await this.deps.ledger.byCardSerial(serial) : undefined };
  }

  private known(record: CardRecord | undefined, serial: string): CardRecord {
    if (!record || record.state === "retired")
      throw new CaError("not-found", `card ${serial} is not a card we personalised`, undefined, {
        code: "card.unknown",
      });
    return record;
  }

  private event(card: CardRecord, actor: string, action: string, details: Record<string, unknown>): CardAuditEvent {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor,
      action,
      objectType: "card",
      objectId: card.id,
      outcome: "success",
      details,
    };
  }

  private puk(card: CardRecord): string {
    if (!card.pukSealed)
      throw new CaError("not-found", `no PUK on record for card ${card.cardSerial}`, undefined, {
        code: "card.no-puk",
      });
    return Buffer.from(this.deps.sealer.open(card.pukSealed, `${card.id}:puk`)).toString("ascii");
  }

  async status(channel: CardChannel): Promise<CardStatus> {
    const { piv, serial, record } = await this.open(channel);
    const certificates = [];
    for (const slot of SLOTS) {
      const der = await piv.readCertificate(slot).catch(() => undefined);
      if (!der) continue;
      const c = new X509Certificate(der);
      certificates.push({
        slot,
        subject: c.subject.replace(/\n/g, ", "),
        serial: c.serialNumber.toLowerCase(),
        notAfter: new Date(c.validTo).toISOString(),
      });
    }
    const tries = await piv.pinTriesLeft();
    let pub: CardStatus["record"];
    if (record) {
      const { managementKeySealed: _m, managementKeyNextSealed: _n, pukSealed: _p, ...rest } = record;
      pub = rest;
    }
    return {
      reader: channel.reader,
      atr: Buffer.from(channel.atr).toString("hex"),
      serial: serial || undefined,
      version: await piv.version(),
      pinTriesLeft: tries ?? "verified",
      certificates,
      record: pub,
    };
  }

  /**
   * Officer-assisted unblock: the sealed PUK resets the PIN to a new random one sent to the holder by another channel
   * (REQ-15); audited.
   */
  async unblock(
    channel: CardChannel,
    actor: string,
    pinChannel: HolderLetter["channel"],
    pinLength = 6,
  ): Promise<{ cardSerial: string; triesBefore: number | "verified" }> {
    const { piv, serial, record } = await this.open(channel);
    const card = this.known(record, serial);
    const triesBefore = (await piv.pinTriesLeft()) ?? "verified";
    const pin = randomDigits(this.deps.random, pinLength);
    await piv.unblockPin(this.puk(card), pin);
    const letter: HolderLetter = {
      id: newId(this.deps.random),
      personId: card.holderPersonId,
      channel: pinChannel,
      kind: "unblock-pin",
      secret: true,
      at: this.deps.clock.now(),
      subject: "Your card was unblocked: new PIN",
      body: templateBody("unblock-pin", { cardSerial: serial, pin }),
    };
    const next: CardRecord = { ...card, pinState: "reset" };
    await this.deps.ledger.save(
      next,
      this.event(next, actor, "card.unblock", {
        cardSerial: serial,
        triesBefore,
        newPin: `random, sent by ${pinChannel}`,
      }),
      letter,
    );
    return { cardSerial: serial, triesBefore };
  }

  /**
   * REQ-16: the holder replaces the transport (or reset) PIN with their own. With `forOrder`, the
   * card in the reader must be the one made for that order (checked before the PIN is touched).
   */
  async changePin(
    channel: CardChannel,
    actor: string,
    oldPin: string,
    newPin: string,
    forOrder?: string,
  ): Promise<{ cardSerial: string; orderId: string; certSerial?: string }> {
    const { piv, serial, record } = await this.open(channel);
    const card = this.known(record, serial);
    if (forOrder !== undefined && card.orderId !== forOrder)
      throw new CaError(
        "conflict",
        `the card in the reader (${serial}) was not made for order ${forOrder}`,
        undefined,
        { code: "card.other-order" },
      );
    await piv.changeReference("pin", oldPin, newPin);
    const next: CardRecord = { ...card, pinState: "holder-set" };
    await this.deps.ledger.save(
      next,
      this.event(next, actor, "card.pin.change", { cardSerial: serial, from: card.pinState }),
    );
    return { cardSerial: serial, orderId: card.orderId, ...(card.certSerial ? { certSerial: card.certSerial } : {}) };
  }

  /**
   * A card reported lost or stolen (without the card): its certificate is revoked (keyCompromise)
   * and the card can never be used again; the replacement is a new order through the RA.
   */
  async reportLost(orderId: string, actor: string): Promise<{ cardSerial: string; revoked?: string }> {
    const card = await this.deps.ledger.byOrder(orderId);
    if (!card || card.state === "retired" || card.state === "lost")
      throw new CaError("not-found", `no card in use for order ${orderId}`, undefined, { code: "card.none-for-order" });
    if (card.certSerial) await this.deps.production.revoke(card.certSerial, "keyCompromise");
    const { managementKeySealed: _m, managementKeyNextSealed: _n, pukSealed: _p, ...rest } = card;
    const next: CardRecord = { ...rest, state: "lost" };
    await this.deps.ledger.save(
      next,
      this.event(next, actor, "card.lost", {
        cardSerial: card.cardSerial,
        revoked: card.certSerial,
        reason: "keyCompromise",
        replacement: "a new order through the RA",
      }),
    );
    return { cardSerial: card.cardSerial, ...(card.certSerial ? { revoked: card.certSerial } : {}) };
  }

  /**
   * Retire a card: revoke its certificate, remove the objects, use up PIN and PUK and reset the PIV application
   * (zeroise).
   */
  async retire(channel: CardChannel, actor: string, reason: string): Promise<{ cardSerial: string; revoked?: string }> {
    const { piv, serial, record } = await this.open(channel);
    const card = this.known(record, serial);
    if (card.certSerial) await this.deps.production.revoke(card.certSerial, reason);
    if (card.managementKeySealed && card.managementKeyAlgorithm) {
      await piv.authenticate(
        this.deps.sealer.open(card.managementKeySealed, `${card.id}:mgm`),
        card.managementKeyAlgorithm,
      );
      for (const tag of [OBJECT.cert9a, OBJECT.cert9c, OBJECT.cert9d, OBJECT.cert9e])
        await piv.deleteObject(tag).catch(() => undefined);
    }
    await piv.blockPinAndPuk();
    await piv.reset();
    const { managementKeySealed: _m, managementKeyNextSealed: _n, pukSealed: _p, ...rest } = card;
    const next: CardRecord = { ...rest, state: "retired" };
    await this.deps.ledger.save(
      next,
      this.event(next, actor, "card.retire", { cardSerial: serial, reason, revoked: card.certSerial, zeroised: true }),
    );
    return { cardSerial: serial, ...(card.certSerial ? { revoked: card.certSerial } : {}) };
  }
}
