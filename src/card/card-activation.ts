import { X509Certificate, createHash } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Random } from "../shared/random.js";
import type { CardChannel } from "./iso7816.js";
import { PivCard, type KeyAlgorithm, type Slot } from "./piv-card.js";
import { DIGEST_INFO, pkcs1Block } from "./pkcs1-block.js";

/** The key algorithm of the certificate in a slot (what GENERAL AUTHENTICATE needs). */
function keyAlgorithm(certDer: Uint8Array): KeyAlgorithm {
  const k = new X509Certificate(certDer).publicKey;
  if (k.asymmetricKeyType === "rsa") {
    if (k.asymmetricKeyDetails?.modulusLength !== 2048)
      throw new CaError("invalid-input", "only RSA-2048 card keys are supported");
    return "RSA-2048";
  }
  if (k.asymmetricKeyDetails?.namedCurve === "prime256v1") return "P-256";
  if (k.asymmetricKeyDetails?.namedCurve === "secp384r1") return "P-384";
  throw new CaError(
    "invalid-input",
    `unsupported card key (${k.asymmetricKeyType} ${k.asymmetricKeyDetails?.namedCurve ?? ""})`,
  );
}

/**
 * The card side of activation (REQ-16), through PC/SC: the holder replaces the transport PIN
 * (CHANGE REFERENCE DATA: after it the card refuses the transport PIN), then the card signs the
 * RA's fresh activation challenge with the slot key, which it does only after VERIFY with the
 * new PIN. The PINs stay between the holder, the station and the card.
 */
export class CardActivation {
  private constructor(
    private readonly piv: PivCard,
    readonly cardSerial: string,
  ) {}

  static async open(channel: CardChannel, random: Random): Promise<CardActivation> {
    const piv = await PivCard.open(channel, random);
    return new CardActivation(piv, await piv.cardSerial());
  }

  /** The certificate in the slot (the card's eID certificate, still on hold until activation). */
  async certificate(slot: Slot = "9a"): Promise<Uint8Array> {
    const der = await this.piv.readCertificate(slot);
    if (!der) throw new CaError("not-found", `no certificate in slot ${slot} of card ${this.cardSerial}`);
    return der;
  }

  /** The transport PIN is replaced by the holder's own; the new PIN is verified at once. */
  async replaceTransportPin(transportPin: string, newPin: string): Promise<void> {
    if (transportPin === newPin)
      throw new CaError("invalid-input", "the new PIN must differ from the transport PIN (REQ-16)", undefined, {
        code: "card.pin-same-as-transport",
      });
    await this.piv.changeReference("pin", transportPin, newPin);
    await this.piv.verifyPin(newPin);
  }

  /** The slot key's signature over the challenge message (DER ECDSA, or RSA PKCS#1 v1.5), after VERIFY PIN. */
  async signChallenge(
    message: Uint8Array,
    hash: "sha256" | "sha384",
    pin: string,
    slot: Slot = "9a",
  ): Promise<Uint8Array> {
    const alg = keyAlgorithm(await this.certificate(slot));
    const digest = createHash(hash).update(message).digest();
    await this.piv.verifyPin(pin);
    const input = alg === "RSA-2048" ? pkcs1Block(Buffer.concat([DIGEST_INFO[hash], digest]), 256) : digest;
    return this.piv.sign(slot, alg, input);
  }
}
