import { CaError } from "../shared/ca-error.js";

/** A response APDU: data and the status word SW1SW2 (ISO/IEC 7816-4 5.1.3). */
export interface ResponseApdu {
  readonly data: Uint8Array;
  readonly sw: number;
}

export const SW_OK = 0x9000;

const hex4 = (sw: number) => sw.toString(16).toUpperCase().padStart(4, "0");

/**
 * The status word as a CaError a person can act on (ISO/IEC 7816-4 5.6, SP 800-73-4 part 2
 * 3.2/3.3): PIN/PUK errors carry the tries left.
 */
export function statusError(sw: number, what: string): CaError {
  const details = { sw: hex4(sw) };
  if ((sw & 0xfff0) === 0x63c0) {
    const triesLeft = sw & 0x0f;
    return new CaError(
      "unauthorized",
      `${what}: wrong PIN or PUK, ${triesLeft} ${triesLeft === 1 ? "try" : "tries"} left`,
      { ...details, triesLeft },
      { code: "card.wrong-pin", params: { triesLeft } },
    );
  }
  switch (sw) {
    case 0x6983:
      return new CaError(
        "forbidden",
        `${what}: blocked (no tries left); unblock with the PUK`,
        { ...details, triesLeft: 0 },
        { code: "card.pin-blocked" },
      );
    case 0x6982:
      return new CaError(
        "unauthorized",
        `${what}: security status not satisfied (PIN or management key needed)`,
        details,
        { code: "card.security-status" },
      );
    case 0x6985:
      return new CaError("conflict", `${what}: conditions of use not satisfied`, details, { code: "card.refused" });
    case 0x6a80:
      return new CaError("invalid-input", `${what}: the card refused the data`, details, { code: "card.refused" });
    case 0x6a81:
    case 0x6d00:
      return new CaError("invalid-input", `${what}: not supported by this card`, details, {
        code: "card.not-supported",
      });
    case 0x6a82:
      return new CaError("not-found", `${what}: no such object or application on the card`, details, {
        code: "card.not-a-piv-card",
      });
    case 0x6a84:
      return new CaError("conflict", `${what}: not enough memory on the card`, details, { code: "card.full" });
    case 0x6a86:
      return new CaError("invalid-input", `${what}: wrong parameters P1-P2 (algorithm or slot)`, details, {
        code: "card.not-supported",
      });
    case 0x6a88:
      return new CaError("not-found", `${what}: referenced data (key slot) not found`, details, {
        code: "card.not-supported",
      });
    case 0x6700:
      return new CaError("invalid-input", `${what}: wrong length`, details, { code: "card.refused" });
    case 0x6e00:
      return new CaError("invalid-input", `${what}: class not supported`, details, { code: "card.not-supported" });
    default:
      return new CaError("internal", `${what}: the card answered SW ${hex4(sw)}`, details, { code: "card.refused" });
  }
}

/** The data of a 9000 response; any other status word is an error. */
export function expectOk(r: ResponseApdu, what: string): Uint8Array {
  if (r.sw !== SW_OK) throw statusError(r.sw, what);
  return r.data;
}
