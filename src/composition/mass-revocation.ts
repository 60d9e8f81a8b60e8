import { createPrivateKey, sign, verify, X509Certificate } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import { pemBlocks } from "../asn1/der.js";
import { MassRevocation } from "../ca/mass-revocation.js";
export type { RevocationJob } from "../ca/mass-revocation.js";
import { KnexRevocationJobStore } from "../store/revocation-job.store.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import { openRa, type RaParts } from "./ra.js";
import type { Parts } from "./parts.js";

/** The roles that may revoke an organisation's certificates, as service-owner staff (REQ-19, REQ-18). */
export const MASS_REVOCATION_ROLES = ["ra-admin", "ca-operator"] as const;

export function massRevocation(
  rt: Parts<"clock" | "random" | "db" | "revocationPolicy">,
  batchSize?: number,
): MassRevocation {
  return new MassRevocation({
    jobs: new KnexRevocationJobStore(rt.db),
    policy: rt.revocationPolicy,
    clock: rt.clock,
    random: rt.random,
    ...(batchSize ? { batchSize } : {}),
  });
}

/**
 * The operator of a mass revocation, from their officer certificate and its key (REQ-22: the
 * credential this CA issued, good now, proven by a signature with its key; REQ-18/19: service-owner
 * staff holding ra-admin or ca-operator). A refusal is audited and names its rule.
 */
export async function massRevocationOperator(
  rt: RaParts,
  certPem: string,
  keyPem: string,
): Promise<{ actor: string; serial: string }> {
  const der = pemBlocks(certPem, "CERTIFICATE")[0];
  if (!der) throw new CaError("invalid-input", "--cert holds no PEM certificate");
  const x = new X509Certificate(der);
  const challenge = rt.random.bytes(32);
  let proven: boolean;
  try {
    proven = verify("sha256", challenge, x.publicKey, sign("sha256", challenge, createPrivateKey(keyPem)));
  } catch {
    proven = false;
  }
  const serial = x.serialNumber.toLowerCase();
  const refuse = async (message: string, code: string): Promise<never> => {
    await recordAuditEvent(rt.db, {
      id: newId(rt.random),
      at: rt.clock.now(),
      actor: `credential:${serial}`,
      action: "revocation.job.refused",
      objectType: "revocation-job",
      objectId: "-",
      outcome: "failure",
      details: { requirement: "REQ-19", code, message },
    });
    throw new CaError("forbidden", message, { requirement: "REQ-19" }, { code });
  };
  if (!proven) return refuse("the key does not belong to the operator's certificate (REQ-22)", "job.key-mismatch");
  const ra = await openRa(rt);
  let actor;
  try {
    actor = (await ra.resolver.resolve(serial, new Uint8Array(der))).actor;
  } catch (e) {
    return refuse(
      `the operator's certificate is not a current officer credential: ${(e as Error).message}`,
      "job.no-officer",
    );
  }
  if (
    actor.kind !== "officer" ||
    !actor.serviceOwnerStaff ||
    !actor.roles.some((r) => MASS_REVOCATION_ROLES.includes(r as never))
  )
    return refuse(
      `a mass revocation needs service-owner staff with ${MASS_REVOCATION_ROLES.join(" or ")} (REQ-18, REQ-19)`,
      "job.role",
    );
  return { actor: `officer:${actor.personId}`, serial };
}
