import { run } from "./environment.js";

/**
 * A certificate's subjectAltName as OpenSSL reads it: `text` from `openssl x509 -ext subjectAltName`, and `der` the
 * primitive values of the SAN's DER from `openssl asn1parse -strparse` (as `TYPE :value`; GeneralStrings, which
 * asn1parse only dumps, decoded from its hex dump). OpenSSL 3.0 prints a UPN otherName but not an id-pkinit-san.
 */
export async function sanAsOpenSslReads(file: string, inform: "PEM" | "DER"): Promise<{ text: string; der: string[] }> {
  const text = await run("openssl", ["x509", "-inform", inform, "-in", file, "-noout", "-ext", "subjectAltName"]);
  if (text.status !== 0) throw new Error(`openssl x509: ${text.out}`);
  const pem = inform === "PEM" ? ["-inform", "PEM"] : ["-inform", "DER"];
  const whole = await run("openssl", ["asn1parse", ...pem, "-in", file]);
  const at = /X509v3 Subject Alternative Name\n\s*(\d+):/.exec(whole.stdout)?.[1];
  if (!at) throw new Error(`no subjectAltName: ${whole.out}`);
  const san = await run("openssl", ["asn1parse", ...pem, "-in", file, "-strparse", at, "-dump"]);
  if (san.status !== 0) throw new Error(`openssl asn1parse: ${san.out}`);
  const der: string[] = [];
  const lines = san.stdout.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /prim: (\S+)\s*(?::(.*))?$/.exec(lines[i]!);
    if (!m) continue;
    let hex = "";
    for (let j = i + 1; j < lines.length; j++) {
      const d = /^\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){0,16})/.exec(lines[j]!);
      if (!d) break;
      hex += d[1]!.replace(/[ -]/g, "");
    }
    der.push(`${m[1]} :${m[2] !== undefined ? m[2].trim() : Buffer.from(hex, "hex").toString("latin1")}`);
  }
  return { text: text.stdout, der };
}
