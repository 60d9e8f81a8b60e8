import type { CaRecords } from "./ca-records.js";
import type { CaSigner } from "./ca-signer-role.js";

/**
 * Every part a role builder can make, by name: the CA records (database, stores, profiles, CA store) and the CA
 * side (issuer, CRL signing, issuing CAs, HSM tokens). No role builds them all; the RA role's issuer and issuing
 * CAs sign over the signer channel, the operator commands build only what a command uses.
 */
interface AllParts
  extends
    Omit<CaRecords, "close">,
    Pick<CaSigner, "issuer" | "crls" | "authorities" | "authority" | "keystore" | "signing"> {}

/**
 * What a wiring function uses, named part by part (`Parts<"config" | "db">`): it is handed what its role built, never
 * a whole runtime.
 */
export type Parts<K extends keyof AllParts> = Pick<AllParts, K>;
