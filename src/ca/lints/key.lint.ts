import { OID } from "../../asn1/oids.js";
import { toHex } from "../../asn1/der.js";
import { keyTypeOf } from "../spki-reader.js";
import type { Lint } from "./lint.js";

const EC_SIG_FOR_KEY: Record<string, string> = { "P-256": OID.ecdsaWithSHA256, "P-384": OID.ecdsaWithSHA384 };

export const keyLints: Lint[] = [
  {
    id: "subject_key_type_allowed",
    citation: "CPS 6.1.5 (profile keyTypes); RFC 5480 2; RFC 3279 2.3.1",
    check: ({ tbs, profile }) => {
      const kt = keyTypeOf(tbs.spki);
      if (!kt) return "subject key is of no supported type";
      return profile.keyTypes.includes(kt) ? undefined : `key type ${kt} not allowed by profile ${profile.id}`;
    },
  },
  {
    id: "signature_algorithm_matches_ca_key",
    citation: "RFC 5280 4.1.2.3 (tbs.signature = the CA's algorithm); RFC 5758 3.2",
    check: ({ tbs, issuer }) => {
      if (toHex(tbs.signatureDer) !== toHex(issuer.signer.algorithmDer))
        return "tbs.signature differs from the CA signer's algorithm";
      const want = EC_SIG_FOR_KEY[issuer.signer.keyType];
      if (want !== undefined && tbs.signatureOid !== want)
        return `ECDSA ${issuer.signer.keyType} CA key must sign with ${want}`;
      // RFC 5758 3.2: ecdsa-with-SHA* has absent parameters.
      if (tbs.signatureOid.startsWith("1.2.840.10045.4.") && tbs.signatureHasParameters)
        return "ECDSA AlgorithmIdentifier must omit parameters";
      return undefined;
    },
  },
];
