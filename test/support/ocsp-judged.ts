import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./environment.js";

/** What `openssl ocsp` said about one certificate: its verdict, the revocation reason, and the whole output. */
export interface OcspVerdict {
  readonly status: "good" | "revoked" | "unknown" | "none";
  readonly reason?: string;
  readonly verified: boolean;
  readonly out: string;
}

/**
 * Asks the public OCSP responder about a certificate with `openssl ocsp` (RFC 6960), the response
 * verified against the demo root with the issuing CA as the responder's chain. Async: the responder
 * may run in this process.
 */
export async function ocspVerdict(o: {
  readonly url: string;
  readonly caStore: string;
  readonly certPem: string;
}): Promise<OcspVerdict> {
  const dir = mkdtempSync(join(tmpdir(), "ocsp-"));
  const cert = join(dir, "card.pem");
  writeFileSync(cert, o.certPem);
  const issuing = join(o.caStore, "demo-issuing", "cert.pem");
  const r = await run("openssl", [
    "ocsp",
    "-issuer",
    issuing,
    "-cert",
    cert,
    "-url",
    `${o.url.replace(/\/$/, "")}/ocsp`,
    "-CAfile",
    join(o.caStore, "demo-root", "cert.pem"),
    "-verify_other",
    issuing,
  ]);
  const status = (/card\.pem: (good|revoked|unknown)/.exec(r.out)?.[1] ?? "none") as OcspVerdict["status"];
  const reason = /Reason: (\w+)/.exec(r.out)?.[1];
  return { status, ...(reason ? { reason } : {}), verified: /Response verify OK/.test(r.out), out: r.out };
}

/**
 * Waits (bounded) until `openssl ocsp` answers `expected` with a verified response: "good",
 * "certificateHold" (revoked, reason certificateHold: on hold or suspended) or another revocation
 * reason; fails naming the step and what the responder last said.
 */
export async function expectOcsp(
  o: { readonly url: string; readonly caStore: string; readonly certPem: string },
  expected: "good" | "certificateHold" | string,
  step: string,
  ms = 15_000,
): Promise<OcspVerdict> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await ocspVerdict(o);
    const matches =
      v.verified && (expected === "good" ? v.status === "good" : v.status === "revoked" && v.reason === expected);
    if (matches) return v;
    if (Date.now() > end)
      throw new Error(`OCSP after ${step}: expected ${expected}, openssl ocsp said: ${v.out.trim()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
