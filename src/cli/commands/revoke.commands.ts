import { readFileSync } from "node:fs";
import { CaError } from "../../shared/ca-error.js";
import { loadConfig } from "../../composition/config.js";
import { openOperatorCa, openOperatorRecords, withOperator } from "../../composition/operator-role.js";
import { massRevocation, massRevocationOperator } from "../../composition/mass-revocation.js";
import type { RevocationJob } from "../../composition/mass-revocation.js";
import { requireString, type Command } from "../command.js";

const show = (j: RevocationJob) =>
  JSON.stringify({
    job: j.id,
    organisation: j.target,
    reason: j.reason,
    status: j.status,
    done: j.done,
    total: j.total,
    revoked: j.revoked,
    skipped: j.skipped,
    operatorCertificate: j.operatorSerial,
    createdAt: j.createdAt,
    finishedAt: j.finishedAt,
  });

const batchSize = (v: Record<string, unknown>) => {
  if (v["batch-size"] === undefined) return undefined;
  const n = Number(v["batch-size"]);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new CaError("invalid-input", "--batch-size is 1..10000");
  return n;
};

const credentialOptions = {
  cert: {
    type: "string",
    description: "the operator's officer certificate (PEM): service-owner staff, ra-admin or ca-operator",
  },
  key: { type: "string", description: "its private key (PEM), proving the operator holds it" },
  "batch-size": { type: "string", description: "serials revoked per transaction (default 1000)" },
} as const;

/** REQ-19: revoke every certificate of an organisation that ceases, as one resumable job. */
const org: Command = {
  name: "org",
  summary: "Revoke every certificate of an organisation (it ceases): one audited job, resumable, progress per batch.",
  usage: "revoke org ORG_NUMBER [--reason cessationOfOperation] --cert FILE --key FILE [--batch-size N]",
  options: {
    reason: { type: "string", description: "CRL reason (default cessationOfOperation)" },
    ...credentialOptions,
  },
  async run(v, pos) {
    const orgNumber = pos[0];
    if (!orgNumber || pos.length !== 1) throw new CaError("invalid-input", "usage: revoke org ORG_NUMBER ...");
    const cert = readFileSync(requireString(v, "cert"), "utf8");
    const key = readFileSync(requireString(v, "key"), "utf8");
    return withOperator(openOperatorCa(loadConfig()), async (rt) => {
      const op = await massRevocationOperator(rt, cert, key);
      const jobs = massRevocation(rt, batchSize(v));
      const job = await jobs.start({
        orgNumber,
        reason: typeof v.reason === "string" ? v.reason : "cessationOfOperation",
        actor: op.actor,
        operatorSerial: op.serial,
      });
      console.log(show(job));
      console.log(show(await jobs.run(job.id, (p) => console.log(show(p.job)))));
      return 0;
    });
  },
};

const resume: Command = {
  name: "resume",
  summary: "Continue a mass revocation job where it stopped (after a crash or kill).",
  usage: "revoke resume JOB_ID --cert FILE --key FILE [--batch-size N]",
  options: credentialOptions,
  async run(v, pos) {
    const id = pos[0];
    if (!id) throw new CaError("invalid-input", "usage: revoke resume JOB_ID ...");
    const cert = readFileSync(requireString(v, "cert"), "utf8");
    const key = readFileSync(requireString(v, "key"), "utf8");
    return withOperator(openOperatorCa(loadConfig()), async (rt) => {
      await massRevocationOperator(rt, cert, key);
      const jobs = massRevocation(rt, batchSize(v));
      console.log(show(await jobs.status(id)));
      console.log(show(await jobs.run(id, (p) => console.log(show(p.job)))));
      return 0;
    });
  },
};

const status: Command = {
  name: "job-status",
  summary: "Progress of mass revocation jobs (done/total), one or all.",
  usage: "revoke job-status [JOB_ID]",
  options: {},
  async run(_v, pos) {
    return withOperator(openOperatorRecords(loadConfig()), async (rt) => {
      const jobs = massRevocation(rt);
      for (const j of pos[0] ? [await jobs.status(pos[0])] : await jobs.list()) console.log(show(j));
      return 0;
    });
  },
};

export const revokeCommands = {
  name: "revoke",
  summary: "Mass revocation (REQ-19): org, resume, job-status",
  commands: [org, resume, status],
};
