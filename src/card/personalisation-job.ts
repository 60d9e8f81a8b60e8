import { templateBody } from "../shared/message-template.js";
import { X509Certificate, createHash, createPublicKey, verify } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { CardChannel } from "./iso7816.js";
import { MGM_KEY_BYTES, PivCard, type KeyAlgorithm, type ManagementKeyAlgorithm, type Slot } from "./piv-card.js";
import type {
  CardAuditEvent,
  CardLedger,
  CardProduction,
  CardRecord,
  FactoryCredentials,
  HolderLetter,
  ProductionOrder,
  SecretSealer,
} from "./ports.js";
import { sha256Hex } from "../shared/digest.js";
import { DIGEST_INFO, pkcs1Block } from "./pkcs1-block.js";

const HASH: Record<KeyAlgorithm, "sha256" | "sha384"> = { "P-256": "sha256", "P-384": "sha384", "RSA-2048": "sha256" };
/** RFC 8017 9.2 note 1: DigestInfo prefix of SHA-256. */

export type JobStep =
  | "connected"
  | "identified"
  | "management-key-set"
  | "key-generated"
  | "certificate-issued"
  | "certificate-written"
  | "pin-set"
  | "verified";

export interface JobDeps {
  readonly production: CardProduction;
  readonly ledger: CardLedger;
  readonly sealer: SecretSealer;
  readonly factory: FactoryCredentials;
  readonly clock: Clock;
  readonly random: Random;
  /** Observer of progress (CLI output; tests pull the card at a chosen step). */
  readonly onStep?: (step: JobStep) => Promise<void> | void;
}

export interface JobResult {
  readonly cardId: string;
  readonly cardSerial: string;
  readonly certSerial: string;
  readonly slot: string;
  readonly algorithm: KeyAlgorithm;
  readonly pinState: "transport" | "delivered";
  readonly roundTrips: number;
  /** REQ-14: the card attested the key (else the LoA2 card-station fallback was used). */
  readonly keyAttested: boolean;
}

/** Digits from the CSPRNG without modulo bias. */
export function randomDigits(random: Random, n: number): string {
  let out = "";
  while (out.length < n) for (const b of random.bytes(n * 2)) if (b < 250 && out.length < n) out += String(b % 10);
  return out;
}

/**
 * Personalises a PIV card for an order in production (REQ-12..16): record the card, set a fresh
 * per-card management key (sealed at rest), generate the key on the card (it never leaves it,
 * REQ-14), have the CA certify that key, write certificate, CHUID and CCC, set PIN and PUK by
 * policy (a random PIN through another channel, or a transport PIN the holder replaces at
 * activation: REQ-15/16), then read back and prove that the on-card key signs under the PIN and
 * matches the certificate. Every step is in the card ledger's audit trail. A failure after
 * issuance revokes the certificate and returns the order to production: no valid certificate for
 * a key that is not on a card.
 */
export class PersonalisationJob {
  constructor(private readonly deps: JobDeps) {}

  private event(
    card: { id: string },
    actor: string,
    action: string,
    outcome: "success" | "failure",
    details: Record<string, unknown>,
  ): CardAuditEvent {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor,
      action,
      objectType: "card",
      objectId: card.id,
      outcome,
      details,
    };
  }

  private async step(s: JobStep): Promise<void> {
    await this.deps.onStep?.(s);
  }

  /**
   * Authenticates with the first management key that works: the stored one, one being set when a job broke, the factory
   * key.
   */
  private async authenticate(
    piv: PivCard,
    known: CardRecord | undefined,
  ): Promise<{ key: Uint8Array; alg: ManagementKeyAlgorithm; source: string }> {
    const { sealer, factory } = this.deps;
    const candidates: { key: Uint8Array; alg: ManagementKeyAlgorithm; source: string }[] = [];
    if (known?.managementKeySealed && known.managementKeyAlgorithm)
      candidates.push({
        key: sealer.open(known.managementKeySealed, `${known.id}:mgm`),
        alg: known.managementKeyAlgorithm,
        source: "stored",
      });
    if (known?.managementKeyNextSealed && known.managementKeyAlgorithm)
      candidates.push({
        key: sealer.open(known.managementKeyNextSealed, `${known.id}:mgm-next`),
        alg: known.managementKeyAlgorithm,
        source: "stored-next",
      });
    candidates.push({ key: factory.managementKey, alg: factory.managementKeyAlgorithm, source: "factory" });
    let last: unknown;
    for (const c of candidates) {
      try {
        await piv.authenticate(c.key, c.alg);
        return c;
      } catch (e) {
        if (!CaError.is(e, "unauthorized") && !CaError.is(e, "invalid-input")) throw e;
        last = e;
        await piv.select(); // a failed authentication leaves the card in a state to start over
      }
    }
    throw new CaError(
      "unauthorized",
      `no known management key opens this card (tried ` +
        `${candidates.map((c) => c.source).join(", ")}): ${(last as Error)?.message}`,
      undefined,
      { code: "card.unknown-management-key" },
    );
  }

  /**
   * The card's PIV attestation for the key in `slot` and its f9 certificate; undefined when the card has no
   * attestation.
   */
  private async attestation(
    piv: PivCard,
    slot: Slot,
  ): Promise<{ certificate: Uint8Array; intermediate: Uint8Array } | undefined> {
    const certificate = await piv.attest(slot);
    if (!certificate) return undefined;
    const intermediate = await piv.attestationCertificate();
    if (!intermediate)
      throw new CaError(
        "invalid-input",
        "the card attests keys but has no attestation certificate in slot f9 (5FFF01)",
      );
    return { certificate, intermediate };
  }

  async run(orderId: string, channel: CardChannel, actor: string): Promise<JobResult> {
    const { production, ledger, sealer, factory, random } = this.deps;
    const order: ProductionOrder = await production.order(orderId);
    const policy = order.policy;
    const piv = await PivCard.open(channel, random);
    await this.step("connected");
    const cardSerial = await piv.cardSerial();
    if (!cardSerial)
      throw new CaError("invalid-input", "the card has neither a serial number nor a CHUID GUID to tell it apart");
    const known = await ledger.byCardSerial(cardSerial);
    // REQ-12: one holder per card. A live card of another holder is not overwritten; the same holder's card may be
    // renewed.
    if (known?.state === "lost")
      throw new CaError("forbidden", `card ${cardSerial} was reported lost; it is not personalised again`, undefined, {
        code: "card.reported-lost",
      });
    if (known && known.state === "personalised" && known.holderPersonId !== order.holderPersonId)
      throw new CaError(
        "conflict",
        `card ${cardSerial} belongs to another holder's live eID; retire it first`,
        undefined,
        { code: "card.in-use" },
      );
    if (known && known.state === "personalising" && known.orderId !== orderId)
      throw new CaError("conflict", `card ${cardSerial} is being personalised for order ${known.orderId}`, undefined, {
        code: "card.busy-for-other-order",
      });
    const renewing = known?.state === "personalised" ? known : undefined;
    let card: CardRecord = {
      id: known && known.state !== "retired" ? known.id : newId(random),
      cardSerial,
      atr: Buffer.from(channel.atr).toString("hex"),
      orderId,
      holderPersonId: order.holderPersonId,
      state: "personalising",
      ...(known && known.state !== "retired" && known.managementKeySealed
        ? { managementKeySealed: known.managementKeySealed, managementKeyAlgorithm: known.managementKeyAlgorithm! }
        : {}),
      ...(known && known.state !== "retired" && known.managementKeyNextSealed
        ? { managementKeyNextSealed: known.managementKeyNextSealed }
        : {}),
      ...(known && known.state !== "retired" && known.pukSealed ? { pukSealed: known.pukSealed } : {}),
    };
    await ledger.save(
      card,
      this.event(card, actor, "card.personalise.start", "success", {
        order: orderId,
        cardSerial,
        reader: channel.reader,
        version: await piv.version(),
        renewalOf: renewing?.certSerial,
      }),
    );
    await this.step("identified");

    let issued: { serial: string; der: Uint8Array } | undefined;
    let keyAttested: boolean;
    try {
      // A fresh per-card management key: recorded sealed BEFORE it is set, so a crash in between never locks us out.
      const current = await this.authenticate(piv, known && known.state !== "retired" ? known : undefined);
      const mgm = random.bytes(MGM_KEY_BYTES[policy.managementKey]);
      const pending = sealer.seal(mgm, `${card.id}:mgm-next`);
      card = { ...card, managementKeyNextSealed: pending, managementKeyAlgorithm: policy.managementKey };
      await ledger.save(
        card,
        this.event(card, actor, "card.management-key.pending", "success", { algorithm: policy.managementKey }),
      );
      await piv.setManagementKey(mgm, policy.managementKey);
      const { managementKeyNextSealed: _done, ...rest } = card;
      card = {
        ...rest,
        managementKeySealed: sealer.seal(mgm, `${card.id}:mgm`),
        managementKeyAlgorithm: policy.managementKey,
      };
      await ledger.save(
        card,
        this.event(card, actor, "card.management-key.set", "success", {
          algorithm: policy.managementKey,
          replaced: current.source,
        }),
      );
      await this.step("management-key-set");
      await piv.authenticate(mgm, policy.managementKey);

      // REQ-14: the key pair is generated on the card; only the public key comes out, with the card's
      // attestation that it made the key (signed by its f9 key) where the card has attestation.
      const spki = await piv.generateKey(policy.slot, policy.algorithm);
      const attestation = await this.attestation(piv, policy.slot);
      keyAttested = attestation !== undefined;
      await ledger.save(
        card,
        this.event(card, actor, "card.key.generate", "success", {
          slot: policy.slot,
          algorithm: policy.algorithm,
          spkiSha256: sha256Hex(spki),
          attestation: attestation
            ? {
                certificateSha256: sha256Hex(attestation.certificate),
                intermediateSha256: sha256Hex(attestation.intermediate),
              }
            : "none (the card has no PIV attestation)",
        }),
      );
      await this.step("key-generated");

      issued = await production.produce(orderId, { spki, cardSerial, ...(attestation ? { attestation } : {}) });
      card = { ...card, certSerial: issued.serial, slot: policy.slot, algorithm: policy.algorithm };
      await this.step("certificate-issued");
      const cert = new X509Certificate(issued.der);
      if (!Buffer.from(cert.publicKey.export({ type: "spki", format: "der" })).equals(Buffer.from(spki)))
        throw new CaError("internal", "the CA certified another key than the one generated on the card");
      await piv.putCertificate(policy.slot, issued.der);
      await piv.putChuid(Buffer.from(card.id.slice(0, 32), "hex"), new Date(cert.validTo));
      await piv.putCcc(random.bytes(14));
      await ledger.save(
        card,
        this.event(card, actor, "card.certificate.write", "success", {
          slot: policy.slot,
          certificate: issued.serial,
          chuid: true,
          ccc: true,
        }),
      );
      await this.step("certificate-written");

      // PIN and PUK by policy (REQ-13, REQ-15/16); the PUK is kept sealed for officer-assisted unblocking.
      const pin = randomDigits(random, policy.pinLength);
      const puk = randomDigits(random, policy.pukLength);
      // The PIN is set with the PUK (RESET RETRY COUNTER), so it works whatever PIN the card had (factory, or a
      // holder's on renewal).
      const currentPuk = card.pukSealed
        ? Buffer.from(sealer.open(card.pukSealed, `${card.id}:puk`)).toString("ascii")
        : factory.puk;
      await piv.unblockPin(currentPuk, pin);
      await piv.changeReference("puk", currentPuk, puk);
      const pinState = policy.pin === "transport" ? "transport" : "delivered";
      card = { ...card, pukSealed: sealer.seal(Buffer.from(puk, "ascii"), `${card.id}:puk`), pinState };
      await ledger.save(
        card,
        this.event(card, actor, "card.pin.set", "success", {
          pin: policy.pin,
          pinLength: policy.pinLength,
          puk: "random, sealed",
        }),
      );
      await this.step("pin-set");

      // Read back: the certificate on the card is the one issued, and the on-card key signs under the PIN.
      const back = await piv.readCertificate(policy.slot);
      if (!back || !Buffer.from(back).equals(Buffer.from(issued.der)))
        throw new CaError("internal", "the certificate read back from the card differs from the one written");
      await piv.verifyPin(pin);
      const challenge = random.bytes(32);
      const digest = createHash(HASH[policy.algorithm]).update(challenge).digest();
      const input =
        policy.algorithm === "RSA-2048" ? pkcs1Block(Buffer.concat([DIGEST_INFO.sha256, digest]), 256) : digest;
      const sig = await piv.sign(policy.slot, policy.algorithm, input);
      const ok =
        policy.algorithm === "RSA-2048"
          ? verify("sha256", challenge, createPublicKey(cert.publicKey.export({ type: "spki", format: "pem" })), sig)
          : verify(HASH[policy.algorithm], challenge, cert.publicKey, sig);
      if (!ok) throw new CaError("internal", "the on-card key's signature does not verify with the issued certificate");
      await this.step("verified");

      const letter: HolderLetter = {
        id: newId(random),
        personId: order.holderPersonId,
        channel: policy.pinChannel,
        kind: "initial-pin",
        secret: true,
        at: this.deps.clock.now(),
        subject: pinState === "transport" ? "Your new card: transport PIN" : "Your new card: PIN",
        // Written in the holder's language when sent (locales/<lang>/notifications.json).
        body: templateBody(pinState === "transport" ? "initial-pin.transport" : "initial-pin.random", {
          cardSerial,
          pin,
        }),
      };
      card = { ...card, state: "personalised", roundTrips: piv.roundTrips };
      await ledger.save(
        card,
        this.event(card, actor, "card.personalise", "success", {
          order: orderId,
          cardSerial,
          slot: policy.slot,
          algorithm: policy.algorithm,
          certificate: issued.serial,
          managementKey: policy.managementKey,
          pin: `${policy.pin} (${policy.pinLength} digits, sent by ${policy.pinChannel})`,
          puk: "random, sealed",
          verified: "certificate read back; on-card signature verified",
          roundTrips: piv.roundTrips,
        }),
        letter,
      );
      if (renewing?.certSerial && renewing.certSerial !== issued.serial)
        await production.revoke(renewing.certSerial, "superseded");
      return {
        cardId: card.id,
        cardSerial,
        certSerial: issued.serial,
        slot: policy.slot,
        algorithm: policy.algorithm,
        pinState,
        roundTrips: piv.roundTrips,
        keyAttested,
      };
    } catch (e) {
      const why = (e as Error).message;
      let undone = "";
      if (issued) {
        try {
          await production.undo(orderId, issued.serial, why);
          undone = `; certificate ${issued.serial} revoked, the order is back in production`;
        } catch (u) {
          undone = `; revoking certificate ${issued.serial} FAILED (${(u as Error).message}): revoke it by hand`;
        }
      }
      const { certSerial: _c, ...rest } = card;
      card = { ...(issued ? rest : card), state: "failed", error: why + undone, roundTrips: piv.roundTrips };
      await ledger
        .save(
          card,
          this.event(card, actor, "card.personalise", "failure", {
            order: orderId,
            cardSerial,
            error: why + undone,
            roundTrips: piv.roundTrips,
          }),
        )
        .catch(() => undefined);
      throw e instanceof CaError
        ? new CaError(e.kind, `personalisation of card ${cardSerial} failed: ${why}${undone}`, e.details, {
            code: e.code,
            params: e.params,
          })
        : e;
    }
  }
}
