import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import { pemBlocks } from "../asn1/der.js";
import { verifyPivAttestation } from "../card/piv-attestation.js";
import type { CardLedger } from "../card/ports.js";
import type { KeyAttestationVerifier, ProductionCards } from "../ra/ports.js";
import type { KeyOriginDeps } from "../ra/key-origin.js";

/**
 * REQ-14: card-maker attestation roots. A workflow names root sets (`attestation.roots`); set S is
 * every certificate in the PEM (or DER) files `<ca-store>/attestation-roots/S/*.{pem,crt,cer}`,
 * installed by an operator (e.g. Yubico's PIV attestation root). Every certificate of a set is a
 * trust anchor for the cards' f9 certificates. Read at each production, so installing or removing
 * a root needs no restart; a set that is missing or empty trusts nothing.
 */
export function attestationRootsDir(caStoreDir: string): string {
  return join(caStoreDir, "attestation-roots");
}

/** Parsed root sets, kept while the folder and its files are unchanged (names, sizes, mtimes). */
const setCache = new Map<string, { stamp: string; roots: Uint8Array[] }>();

export function loadRootSet(caStoreDir: string, set: string): Uint8Array[] {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(set))
    throw new CaError("config", `attestation root set name '${set}' is not a plain name`);
  const dir = join(attestationRootsDir(caStoreDir), set);
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((x) => /\.(pem|crt|cer)$/i.test(x))
    .sort();
  const stamp = files
    .map((f) => {
      const st = statSync(join(dir, f));
      return `${f}:${st.size}:${st.mtimeMs}`;
    })
    .join("|");
  const cached = setCache.get(dir);
  if (cached?.stamp === stamp) return cached.roots;
  const out: Uint8Array[] = [];
  for (const f of files) {
    const raw = new Uint8Array(readFileSync(join(dir, f)));
    for (const der of pemBlocks(raw, "CERTIFICATE")) {
      try {
        new X509Certificate(der);
      } catch (e) {
        throw new CaError("config", `attestation root ${join(dir, f)} is not a certificate: ${(e as Error).message}`);
      }
      out.push(der);
    }
  }
  setCache.set(dir, { stamp, roots: out });
  return out;
}

/** The PIV attestation verifier over the root sets in the CA store. */
export function keyAttestationVerifier(caStoreDir: string): KeyAttestationVerifier {
  return {
    async verify(attestation, rootSets, now) {
      let last: unknown;
      const empty: string[] = [];
      for (const set of rootSets) {
        const anchors = loadRootSet(caStoreDir, set);
        if (anchors.length === 0) {
          empty.push(set);
          continue;
        }
        try {
          const a = verifyPivAttestation(attestation, anchors, now);
          return { ...a, root: { set, subject: a.anchor.subject, sha256: a.anchor.sha256 } };
        } catch (e) {
          if (!CaError.is(e, "policy-violation")) throw e;
          last = e;
        }
      }
      if (last) throw last;
      throw new CaError(
        "policy-violation",
        `PIV attestation: no card-maker root is installed for root set ` +
          `${empty.join(", ")} (${empty.map((s) => join(attestationRootsDir(caStoreDir), s)).join(", ")})`,
        undefined,
        { code: "guard.key-attested.no-roots" },
      );
    },
  };
}

/** The card the station recorded for an order, from the card ledger. */
export function productionCards(ledger: Pick<CardLedger, "byOrder">): ProductionCards {
  return {
    async cardForOrder(orderId) {
      const c = await ledger.byOrder(orderId);
      return c
        ? { cardSerial: c.cardSerial, state: c.state, managementKeyRecorded: c.managementKeySealed !== undefined }
        : undefined;
    },
  };
}

export function keyOriginDeps(caStoreDir: string, ledger: Pick<CardLedger, "byOrder">): KeyOriginDeps {
  return { verifier: keyAttestationVerifier(caStoreDir), cards: productionCards(ledger) };
}
