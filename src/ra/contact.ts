import { CaError } from "../shared/ca-error.js";

/** ITU-T E.164: a plus, a country code not starting with 0, at most 15 digits in all. */
export const E164 = /^\+[1-9][0-9]{6,14}$/;
/** A postal address: 2 to 6 lines of at most 80 characters, no control characters but the line breaks. */
// eslint-disable-next-line no-control-regex -- the control characters are what the pattern refuses
export const POSTAL_ADDRESS = /^[^\u0000-\u001f\u007f]{1,80}(\n[^\u0000-\u001f\u007f]{1,80}){1,5}$/;

/**
 * A person's phone number and postal address, checked: where SMS and letters go (REQ-15). Both
 * optional; sealed at rest like names and emails (REQ-29).
 */
export function contactFields(input: { phone?: string; postalAddress?: string }): {
  phone?: string;
  postalAddress?: string;
} {
  const out: { phone?: string; postalAddress?: string } = {};
  if (input.phone !== undefined) {
    if (!E164.test(input.phone))
      throw new CaError(
        "invalid-input",
        `phone must be an E.164 number such as +46701234567 (got '${input.phone}')`,
        undefined,
        { code: "person.phone-format" },
      );
    out.phone = input.phone;
  }
  if (input.postalAddress !== undefined) {
    const a = input.postalAddress.replace(/\r\n/g, "\n").trim();
    if (!POSTAL_ADDRESS.test(a))
      throw new CaError(
        "invalid-input",
        "postalAddress must be 2 to 6 lines (separated by \\n) of at most 80 characters each",
        undefined,
        { code: "person.postal-address-format" },
      );
    out.postalAddress = a;
  }
  return out;
}
