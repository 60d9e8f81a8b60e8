import { writeFileSync, existsSync } from "node:fs";
import { CaError } from "../../shared/ca-error.js";
import { toPem } from "../../asn1/der.js";
import { loadConfig } from "../../composition/config.js";
import {
  openOperatorCa,
  openOperatorRecords,
  withOperator,
  type OperatorRecords,
} from "../../composition/operator-role.js";
import { parseSubjectArg } from "../subject-arg.js";
import { OPERATOR_OPTION, operatorArg, publicKeyArg, readFileArg, requireString, type Command } from "../command.js";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { nameToString } from "../../asn1/name.js";

const issue: Command = {
  name: "issue",
  summary:
    "Issue a certificate from an infrastructure profile (ocsp-signer, kdc, " +
    "ra-officer bootstrap). End-entity cards go through the RA.",
  usage:
    "cert issue --profile ID --ca CA (--csr FILE | --public-key FILE) --subject " +
    "'CN=..,O=..,C=..' [--email E [--validated-domain D]] [--upn U] " +
    "[--krb5-principal krbtgt/REALM@REALM] [--out FILE] --operator NAME",
  options: {
    profile: { type: "string", description: "certificate profile id (infrastructure kind only)" },
    ca: { type: "string", description: "issuing CA id (default: the only active one)" },
    csr: { type: "string", description: "PKCS#10 request, PEM or DER; its signature is checked, only its key is used" },
    "public-key": { type: "string", description: "SubjectPublicKeyInfo, PEM ('PUBLIC KEY') or DER" },
    subject: { type: "string", description: "verified subject attributes, e.g. 'CN=OCSP 1,O=Org,C=SE'" },
    email: { type: "string", multiple: true, description: "rfc822Name SAN" },
    upn: { type: "string", multiple: true, description: "UPN otherName SAN" },
    "krb5-principal": {
      type: "string",
      multiple: true,
      description: "id-pkinit-san otherName SAN (RFC 4556 3.2.2), e.g. krbtgt/EXAMPLE.ORG@EXAMPLE.ORG for profile kdc",
    },
    "validated-domain": {
      type: "string",
      multiple: true,
      description:
        "REQ-01: a domain the subject's organisation validated; profiles with an " +
        "e-mail domain rule take --email only within these",
    },
    operator: OPERATOR_OPTION,
    out: { type: "string", description: "write the PEM certificate here (refuses to overwrite) instead of stdout" },
  },
  async run(v) {
    const config = loadConfig();
    const profileId = requireString(v, "profile");
    const subject = parseSubjectArg(requireString(v, "subject"));
    const requestedBy = operatorOf(v);
    const out = v.out as string | undefined;
    if (out && existsSync(out)) throw new CaError("conflict", `${out} exists; refusing to overwrite`);
    let publicKey: Uint8Array | undefined;
    let csr: Uint8Array | undefined;
    if (typeof v.csr === "string") csr = readFileArg(v.csr);
    if (typeof v["public-key"] === "string") publicKey = publicKeyArg(v["public-key"]);
    const issued = await withOperator(openOperatorCa(config), (rt) => {
      const caId =
        (v.ca as string | undefined) ??
        (rt.authorities.size === 1 ? [...rt.authorities.keys()][0]! : requireString(v, "ca"));
      return rt.issuer.issue(rt.authority(caId), {
        profileId,
        subject,
        ...(csr ? { csr } : {}),
        ...(publicKey ? { publicKey } : {}),
        san: {
          ...(v.email ? { email: v.email as string[] } : {}),
          ...(v.upn ? { upn: v.upn as string[] } : {}),
          ...(v["krb5-principal"] ? { krb5Principal: v["krb5-principal"] as string[] } : {}),
        },
        requestedBy,
        allowedKinds: ["infrastructure"],
        ...(v["validated-domain"] ? { validatedEmailDomains: v["validated-domain"] as string[] } : {}),
      });
    });
    const pem = toPem("CERTIFICATE", issued.der);
    if (out) writeFileSync(out, pem, { flag: "wx" });
    else process.stdout.write(pem);
    if (issued.omittedEmails)
      console.error(
        `e-mail SAN left out (${issued.omittedEmails.join(", ")}): outside the ` +
          `validated domains; give --validated-domain (REQ-01)`,
      );
    console.error(
      `issued serial ${issued.serial} (${issued.profileId}) by ${issued.issuerId}, ` +
        `valid until ${issued.notAfter.toISOString()}`,
    );
    return 0;
  },
};

const show: Command = {
  name: "show",
  summary: "Show what the CA recorded for a serial (status, profile, subject, validity); --pem prints the certificate.",
  usage: "cert show SERIAL [--pem]",
  options: { pem: { type: "boolean", description: "print the certificate in PEM" } },
  async run(v, pos) {
    if (pos.length !== 1 || !/^[0-9a-fA-F]{2,64}$/.test(pos[0]!))
      throw new CaError("invalid-input", "give one serial in hex");
    const rec = await withOperator(openOperatorRecords(loadConfig()), (rt) => rt.store.get(pos[0]!.toLowerCase()));
    if (!rec) throw new CaError("not-found", `no certificate with serial ${pos[0]}`);
    if (v.pem) {
      if (!rec.der) throw new CaError("not-found", `serial ${rec.serial} has no certificate (status ${rec.status})`);
      process.stdout.write(toPem("CERTIFICATE", rec.der));
      return 0;
    }
    const issuer = rec.der
      ? nameToString(AsnConvert.parse(rec.der.slice().buffer, Certificate).tbsCertificate.issuer)
      : undefined;
    console.log(
      JSON.stringify(
        {
          serial: rec.serial,
          status: rec.status,
          issuerId: rec.issuerId,
          issuer,
          profile: `${rec.profileId}@${rec.profileVersion}`,
          subject: rec.subjectDn,
          notBefore: rec.notBefore.toISOString(),
          notAfter: rec.notAfter.toISOString(),
          revokedAt: rec.revokedAt?.toISOString(),
          revocationReason: rec.revocationReason,
          createdAt: rec.createdAt.toISOString(),
        },
        null,
        2,
      ),
    );
    return 0;
  },
};

function serialArg(pos: string[]): string {
  if (pos.length !== 1) throw new CaError("invalid-input", "give one serial in hex");
  return pos[0]!;
}

async function withRegistry(fn: (rt: OperatorRecords) => Promise<unknown>): Promise<number> {
  console.log(JSON.stringify(await withOperator(openOperatorRecords(loadConfig()), fn)));
  return 0;
}

const operatorOf = (v: Record<string, unknown>) => `operator:${operatorArg(v)}`;

const revoke: Command = {
  name: "revoke",
  summary:
    "Revoke a certificate with an RFC 5280 reason the policy allows; a revoked " +
    "certificate can only be upgraded to keyCompromise.",
  usage: "cert revoke SERIAL --reason R [--invalidity-date ISO] --operator NAME",
  options: {
    reason: {
      type: "string",
      description:
        "unspecified | keyCompromise | affiliationChanged | superseded | " +
        "cessationOfOperation | certificateHold (policy list)",
    },
    "invalidity-date": {
      type: "string",
      description: "when the key was (suspected) compromised, ISO 8601 (RFC 5280 5.3.2)",
    },
    operator: OPERATOR_OPTION,
  },
  async run(v, pos) {
    const serial = serialArg(pos);
    const reason = requireString(v, "reason");
    let invalidityDate: Date | undefined;
    if (typeof v["invalidity-date"] === "string") {
      invalidityDate = new Date(v["invalidity-date"]);
      if (Number.isNaN(invalidityDate.getTime()))
        throw new CaError("invalid-input", `bad --invalidity-date '${v["invalidity-date"]}'`);
    }
    return withRegistry((rt) =>
      rt.registry.revoke({ serial, reason, ...(invalidityDate ? { invalidityDate } : {}), actor: operatorOf(v) }),
    );
  },
};

/** suspend and resume take a serial and an operator and nothing else. */
function holdCommand(name: "suspend" | "resume", summary: string): Command {
  return {
    name,
    summary,
    usage: `cert ${name} SERIAL --operator NAME`,
    options: { operator: OPERATOR_OPTION },
    async run(v, pos) {
      const serial = serialArg(pos);
      return withRegistry((rt) => rt.registry[name](serial, operatorOf(v)));
    },
  };
}

const suspend = holdCommand("suspend", "Suspend a certificate (certificateHold): revoked until resumed.");
const resume = holdCommand("resume", "Resume a suspended certificate (removeFromCRL on the next delta CRL).");

export const certCommands = {
  name: "cert",
  summary: "certificates: issue, show, revoke, suspend, resume",
  commands: [issue, show, revoke, suspend, resume],
};
