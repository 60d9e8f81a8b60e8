/** Key types cardpki issues for and signs with (profiles name them in `keyTypes`). */
export const KEY_TYPES = ["P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096"] as const;
export type KeyType = (typeof KEY_TYPES)[number];
