import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import {
  imprintOf,
  readTimeStampResponse,
  timeStampRequest,
  tsaCertificate,
  verifyTimeStampToken,
} from "../../src/audit/timestamp-token.js";
import { makeTsaFiles } from "../support/tsa.js";
import { systemClock } from "../../src/shared/clock.js";
import { cryptoRandom } from "../../src/shared/random.js";

/** RFC 3161 tokens from `openssl ts -reply` (the judge is OpenSSL's TSA), read and verified by ours. */
describe("audit/timestamp-token (RFC 3161)", function () {
  this.timeout(30_000);
  const tsa = makeTsaFiles();
  const cert = tsaCertificate(new Uint8Array(new X509Certificate(readFileSync(tsa.certFile)).raw));
  const data = new TextEncoder().encode('["cardpki-audit-checkpoint-v1",42,"ab",42,1,"s","h"]');
  const stamp = (query: Uint8Array) => {
    writeFileSync(join(tsa.dir, "u.tsq"), query);
    const r = spawnSync("openssl", [
      "ts",
      "-reply",
      "-config",
      tsa.config,
      "-queryfile",
      join(tsa.dir, "u.tsq"),
      "-out",
      join(tsa.dir, "u.tsr"),
    ]);
    expect(r.status, String(r.stderr)).to.equal(0);
    return new Uint8Array(readFileSync(join(tsa.dir, "u.tsr")));
  };
  const nonce = Buffer.from(cryptoRandom.bytes(8));
  const madeAt = systemClock.now().getTime();
  const { token, info } = readTimeStampResponse(
    stamp(timeStampRequest(imprintOf(data), nonce)),
    imprintOf(data),
    nonce,
  );

  it("ok/openssl ts -verify accepts our request's token; ours verifies it against the TSA certificate", async () => {
    writeFileSync(join(tsa.dir, "u.tok"), token);
    writeFileSync(join(tsa.dir, "u.dat"), data);
    const judge = spawnSync("openssl", [
      "ts",
      "-verify",
      "-token_in",
      "-in",
      join(tsa.dir, "u.tok"),
      "-data",
      join(tsa.dir, "u.dat"),
      "-CAfile",
      tsa.certFile,
      "-untrusted",
      tsa.certFile,
    ]);
    expect(String(judge.stdout), String(judge.stderr)).to.match(/Verification: OK/);
    const v = await verifyTimeStampToken(token, data, cert);
    expect(v.ok).to.equal(true);
    expect(Math.abs(info.genTime.getTime() - madeAt)).to.be.below(60_000);
  });

  it("fail/other data, a changed signature byte, another TSA, a wrong nonce, a non-TSA certificate", async () => {
    expect(await verifyTimeStampToken(token, new TextEncoder().encode("other"), cert)).to.deep.include({ ok: false });
    const bent = token.slice();
    bent[bent.length - 10]! ^= 0x01; // inside the signature value at the end of the SignerInfo
    const v = await verifyTimeStampToken(bent, data, cert);
    expect(v.ok).to.equal(false);
    const other = makeTsaFiles("another TSA");
    const r = await verifyTimeStampToken(
      token,
      data,
      tsaCertificate(new Uint8Array(new X509Certificate(readFileSync(other.certFile)).raw)),
    );
    expect(r).to.deep.include({ ok: false });
    expect((r as { reason: string }).reason).to.match(/not signed by the configured TSA/);
    expect(() =>
      readTimeStampResponse(
        stamp(timeStampRequest(imprintOf(data), nonce)),
        imprintOf(data),
        Buffer.from(cryptoRandom.bytes(8)),
      ),
    ).to.throw(/nonce/);
    const plain = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        join(tsa.dir, "p.key"),
        "-subj",
        "/CN=plain",
        "-days",
        "1",
      ],
      { encoding: "utf8" },
    );
    expect(() => tsaCertificate(new Uint8Array(new X509Certificate(plain.stdout).raw))).to.throw(/timeStamping/);
  });
});
