import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AsnConvert, AsnParser, OctetString } from "@peculiar/asn1-schema";
import { BasicOCSPResponse, CertID, OCSPResponse, id_pkix_ocsp_basic } from "@peculiar/asn1-ocsp";
import { AuthorityKeyIdentifier, CertificateList, CRLNumber, CRLReason, Name } from "@peculiar/asn1-x509";
import { concat, derTlv, pemBlocks } from "../../src/asn1/der.js";
import { encodeOid } from "../../src/asn1/der-reader.js";
import { certificateSerialHex, parseCertificate, reencode } from "../../src/asn1/parse.js";
import { MalformedOcspRequest, parseOcspRequest } from "../../src/ca/ocsp/ocsp-request.js";
import { certIdDer, responseData, singleResponse, successfulResponse } from "../../src/ca/ocsp/ocsp-response.js";
import { buildCrlTbs } from "../../src/ca/crl-builder.js";
import { verifyCsr } from "../../src/ca/csr.js";
import { parseSubjectKey } from "../../src/ca/public-key.js";
import { readTbsView } from "../../src/ca/lints/tbs-view.js";
import { ALL_LINTS, runLints } from "../../src/ca/lints/index.js";
import { buildTbs } from "../../src/ca/tbs-builder.js";
import { CaError } from "../../src/shared/ca-error.js";
import { makeCsr, testKey } from "../support/keys.js";
import { ORG_SUBJECT, PROFILES, softwareAuthority } from "../support/test-ca.js";

const SHA1 = "1.3.14.3.2.26";
const NOW = new Date("2026-03-01T12:00:00Z");

/** A small deterministic generator for the mutations (no Math.random in tests). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Truncations at every length, every byte flipped, random bytes overwritten, random junk: many malformed inputs. */
function mutations(valid: Uint8Array, seed: number, random = 300): Uint8Array[] {
  const next = lcg(seed);
  const out: Uint8Array[] = [];
  for (let n = 0; n < valid.length; n += Math.max(1, Math.floor(valid.length / 200))) out.push(valid.slice(0, n));
  for (let i = 0; i < valid.length; i += Math.max(1, Math.floor(valid.length / 200))) {
    const m = valid.slice();
    m[i] ^= 0xff;
    out.push(m);
  }
  for (let k = 0; k < random; k++) {
    const m = valid.slice();
    for (let j = 0; j < 1 + Math.floor(next() * 4); j++) m[Math.floor(next() * m.length)] = Math.floor(next() * 256);
    out.push(m);
  }
  for (let k = 0; k < 50; k++)
    out.push(Uint8Array.from({ length: Math.floor(next() * 200) }, () => Math.floor(next() * 256)));
  out.push(concat(valid, Uint8Array.of(0)), concat(Uint8Array.of(0x30, 0x80), valid.subarray(2), Uint8Array.of(0, 0)));
  return out;
}

/** Each input is either read or refused with a CaError invalid-input; anything else (a crash) fails. */
function judge<T>(inputs: Uint8Array[], parse: (b: Uint8Array) => T): { ok: number; refused: number } {
  let ok = 0;
  let refused = 0;
  for (const b of inputs) {
    try {
      parse(b);
      ok++;
    } catch (e) {
      if (!(e instanceof CaError) || e.kind !== "invalid-input")
        throw new Error(`input ${Buffer.from(b).toString("hex")} crashed the parser: ${(e as Error)?.stack ?? e}`, {
          cause: e,
        });
      expect(e.message).to.be.a("string").and.not.equal("");
      refused++;
    }
  }
  return { ok, refused };
}

const dir = mkdtempSync(join(tmpdir(), "cardpki-asn1-"));
const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
openssl(
  "req",
  "-x509",
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-nodes",
  "-keyout",
  "ca.key",
  "-subj",
  "/CN=Unit CA",
  "-days",
  "3",
  "-out",
  "ca.pem",
);
openssl(
  "req",
  "-x509",
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-nodes",
  "-keyout",
  "ee.key",
  "-subj",
  "/CN=Unit EE",
  "-days",
  "3",
  "-set_serial",
  "0x8a0102030405060708",
  "-out",
  "ee.pem",
);
openssl("ocsp", "-issuer", "ca.pem", "-cert", "ee.pem", "-no_nonce", "-reqout", "plain.der");
openssl("ocsp", "-issuer", "ca.pem", "-cert", "ee.pem", "-reqout", "nonce.der");
openssl(
  "ocsp",
  "-issuer",
  "ca.pem",
  "-cert",
  "ee.pem",
  "-signer",
  "ee.pem",
  "-signkey",
  "ee.key",
  "-reqout",
  "signed.der",
);
const file = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
const certDer = (f: string) => pemBlocks(readFileSync(join(dir, f), "utf8"), "CERTIFICATE")[0]!;

describe("asn1: untrusted input read by the @peculiar ASN.1 library", () => {
  describe("OCSP requests (RFC 6960 4.1.1)", () => {
    const ca = new X509Certificate(readFileSync(join(dir, "ca.pem")));
    const caKeyBits = new Uint8Array(ca.publicKey.export({ type: "spki", format: "der" })).subarray(-65);
    const want = {
      hashOid: SHA1,
      serial: "8a0102030405060708",
      issuerNameHash: createHash("sha1")
        .update(reencode(parseCertificate(certDer("ee.pem")).tbsCertificate.issuer))
        .digest("hex"),
      issuerKeyHash: createHash("sha1").update(caKeyBits).digest("hex"),
    };
    it("ok/openssl's requests: without nonce, with nonce, signed; the CertID read back", () => {
      const plain = parseOcspRequest(file("plain.der"), 10);
      expect(plain.requests).to.deep.equal([want]);
      expect(plain.nonce).to.equal(undefined);
      expect(plain.signed).to.equal(false);
      const nonce = parseOcspRequest(file("nonce.der"), 10);
      expect(nonce.requests).to.deep.equal([want]);
      expect(nonce.nonce).to.have.length(16);
      expect(parseOcspRequest(file("signed.der"), 10).signed).to.equal(true);
    });
    it("ok/a Request with singleRequestExtensions ([0] EXPLICIT, RFC 6960 4.1.1) is read", () => {
      const cid = certIdDer({
        hashOid: SHA1,
        issuerNameHash: "11".repeat(20),
        issuerKeyHash: "22".repeat(20),
        serial: "01",
      });
      const ext = derTlv(
        0xa0,
        derTlv(0x30, derTlv(0x30, concat(encodeOid("1.2.3.4"), derTlv(0x04, Uint8Array.of(5, 0))))),
      );
      const der = derTlv(0x30, derTlv(0x30, derTlv(0x30, derTlv(0x30, concat(cid, ext)))));
      expect(parseOcspRequest(der, 10).requests[0]!.serial).to.equal("01");
    });
    it(`fail/an unknown critical request extension, a repeated nonce, a nonce that is no OCTET STRING: \
malformed`, () => {
      const cid = derTlv(
        0x30,
        certIdDer({ hashOid: SHA1, issuerNameHash: "11".repeat(20), issuerKeyHash: "22".repeat(20), serial: "01" }),
      );
      const req = (...exts: Uint8Array[]) =>
        derTlv(0x30, derTlv(0x30, concat(derTlv(0x30, cid), derTlv(0xa2, derTlv(0x30, concat(...exts))))));
      const nonce = derTlv(
        0x30,
        concat(encodeOid("1.3.6.1.5.5.7.48.1.2"), derTlv(0x04, derTlv(0x04, Uint8Array.of(1, 2)))),
      );
      const critical = derTlv(
        0x30,
        concat(encodeOid("1.2.3.4"), Uint8Array.of(0x01, 0x01, 0xff), derTlv(0x04, Uint8Array.of(5, 0))),
      );
      const notOctets = derTlv(0x30, concat(encodeOid("1.3.6.1.5.5.7.48.1.2"), derTlv(0x04, Uint8Array.of(5, 0))));
      expect(parseOcspRequest(req(nonce), 10).nonce).to.deep.equal(Uint8Array.of(1, 2));
      for (const [what, der] of [
        ["critical", req(critical)],
        ["repeated", req(nonce, nonce)],
        ["not octets", req(notOctets)],
      ] as const)
        expect(() => parseOcspRequest(der, 10), what).to.throw(MalformedOcspRequest);
    });
    it(`fail/thousands of truncated, flipped and random inputs: each is read or refused as invalid-input, none \
crashes`, () => {
      let total = { ok: 0, refused: 0 };
      for (const [i, f] of ["plain.der", "nonce.der", "signed.der"].entries()) {
        const r = judge(mutations(file(f), 19 + i), (b) => parseOcspRequest(b, 10));
        total = { ok: total.ok + r.ok, refused: total.refused + r.refused };
      }
      expect(total.refused).to.be.greaterThan(1000);
    });
  });

  describe("CSRs (RFC 2986) and public keys (RFC 5280 4.1.2.7)", () => {
    const key = testKey("P-256");
    const csr = makeCsr(key);
    it(`ok/a CSR and an openssl CSR give their key; fail/mutated CSRs and SPKIs are refused as invalid-input, none \
crashes`, () => {
      expect(verifyCsr(csr).keyType).to.equal("P-256");
      openssl("req", "-new", "-key", "ee.key", "-subj", "/CN=x", "-out", "r.csr");
      expect(verifyCsr(readFileSync(join(dir, "r.csr"), "utf8")).keyType).to.equal("P-256");
      judge(mutations(csr, 7), (b) => verifyCsr(b));
      judge(mutations(key.spki, 8), (b) => parseSubjectKey(b));
      judge(mutations(testKey("RSA-2048").spki, 9, 100), (b) => parseSubjectKey(b));
    });
    it("fail/an SPKI in BER (non-minimal inner length) is refused: the bytes go into a certificate as they are", () => {
      const spki = key.spki;
      // 30 59 30 13 ... -> 30 5a 30 81 13 ...
      const ber = concat(Uint8Array.of(0x30, spki[1]! + 1, 0x30, 0x81), spki.subarray(3));
      expect(() => parseSubjectKey(ber)).to.throw(CaError, /DER/);
    });
  });

  describe("client certificates (RFC 5280 4.1)", () => {
    it("ok/the serial as the store keys it, the same as OpenSSL reads it (a high-bit serial too)", () => {
      for (const f of ["ca.pem", "ee.pem"]) {
        const der = certDer(f);
        expect(certificateSerialHex(parseCertificate(der))).to.equal(
          new X509Certificate(der).serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ""),
        );
      }
      expect(certificateSerialHex(parseCertificate(certDer("ee.pem")))).to.equal("8a0102030405060708");
    });
    it("fail/mutated certificates are refused as invalid-input, none crashes", () => {
      const r = judge(mutations(certDer("ee.pem"), 11), (b) => parseCertificate(b, "client certificate"));
      expect(r.refused).to.be.greaterThan(300);
    });
  });

  describe("the TBS the lints read", () => {
    const ca = softwareAuthority();
    const profile = PROFILES.get("loa3-smartcard-auth")!;
    const tbs = buildTbs({
      profile,
      issuer: ca,
      subject: ORG_SUBJECT,
      san: { email: ["a@example.se"] },
      spki: testKey("P-256").spki,
      serial: "09" + "ab".repeat(16),
      now: NOW,
    }).der;
    it("ok/fields as the library reads them", () => {
      const v = readTbsView(tbs);
      expect(v.version).to.equal(3);
      expect(Buffer.from(v.serial).toString("hex")).to.equal("09" + "ab".repeat(16));
      expect(Buffer.from(v.issuerDer).equals(Buffer.from(ca.nameDer))).to.equal(true);
      expect(v.subject.map((r) => r[0]!.value)).to.include("Alice Andersson");
      expect(v.notBefore.tag).to.equal(0x17);
    });
    it("fail/a TBS that is BER, not DER, is refused by the lints (nothing would be signed)", () => {
      // The explicit version [0] with a non-minimal length: the library reads it, its re-encoding differs.
      const body = tbs.subarray(tbs[1]! & 0x80 ? 2 + (tbs[1]! & 0x7f) : 2);
      const ber = derTlv(0x30, concat(Uint8Array.of(0xa0, 0x81, 0x03), body.subarray(2)));
      expect(() => readTbsView(ber)).to.throw(CaError, /not DER/);
      const findings = runLints(ALL_LINTS, { tbsDer: ber, profile, issuer: ca, selfSigned: false });
      expect(findings.map((f) => f.id)).to.deep.equal(["tbs_der_parses"]);
    });
    it("fail/mutated TBS: the lints answer with findings, never a crash", () => {
      for (const b of mutations(tbs, 13, 200)) {
        const findings = runLints(ALL_LINTS, { tbsDer: b, profile, issuer: ca, selfSigned: false });
        expect(findings).to.be.an("array");
      }
    });
  });
});

describe("hand-written DER writers, read back by the library (round trips)", () => {
  const ca = softwareAuthority();
  it(`ok/OCSP response (RFC 6960 4.2.1): good, revoked with reason, unknown, nonce; the library's re-encoding is byte \
for byte; the signature verifies`, async () => {
    const responder = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const thisUpdate = new Date("2026-03-01T12:00:00Z");
    const nextUpdate = new Date("2026-03-02T12:00:00Z");
    const revokedAt = new Date("2026-02-27T08:30:00Z");
    const cids = ["01ab", "8f00", "7f"].map((serial) => ({
      hashOid: SHA1,
      issuerNameHash: "11".repeat(20),
      issuerKeyHash: "22".repeat(20),
      serial,
    }));
    const singles = [
      singleResponse(certIdDer(cids[0]!), { kind: "good" }, thisUpdate, nextUpdate),
      singleResponse(
        certIdDer(cids[1]!),
        { kind: "revoked", revokedAt, reason: "keyCompromise" },
        thisUpdate,
        nextUpdate,
      ),
      singleResponse(certIdDer(cids[2]!), { kind: "unknown" }, thisUpdate, nextUpdate),
    ];
    const keyHash = new Uint8Array(20).fill(0x33);
    const nonce = Uint8Array.of(9, 8, 7, 6);
    const tbs = responseData(keyHash, thisUpdate, singles, nonce);
    const sig = sign("sha256", tbs, { key: responder.privateKey, dsaEncoding: "der" });
    const der = successfulResponse(tbs, ca.signer.algorithmDer, new Uint8Array(sig), certDer("ca.pem"));
    const resp = AsnParser.parse(der, OCSPResponse);
    expect(resp.responseStatus).to.equal(0);
    expect(resp.responseBytes!.responseType).to.equal(id_pkix_ocsp_basic);
    const basicDer = new Uint8Array(resp.responseBytes!.response.buffer);
    const basic = AsnParser.parse(basicDer, BasicOCSPResponse);
    const data = basic.tbsResponseData;
    expect(Buffer.from(data.responderID.byKey!.buffer).equals(Buffer.from(keyHash))).to.equal(true);
    expect(data.producedAt.getTime()).to.equal(thisUpdate.getTime());
    expect(data.responses.map((r) => Buffer.from(r.certID.serialNumber).toString("hex"))).to.deep.equal([
      "01ab",
      "008f00",
      "7f",
    ]);
    expect(data.responses[0]!.certStatus.good).to.equal(null);
    expect(data.responses[1]!.certStatus.revoked!.revocationTime.getTime()).to.equal(revokedAt.getTime());
    expect(data.responses[1]!.certStatus.revoked!.revocationReason!.reason).to.equal(1);
    expect(data.responses[2]!.certStatus.unknown).to.not.equal(undefined);
    expect(
      data.responses.every(
        (r) => r.thisUpdate.getTime() === thisUpdate.getTime() && r.nextUpdate!.getTime() === nextUpdate.getTime(),
      ),
    ).to.equal(true);
    const ext = data.responseExtensions!.find((e) => e.extnID === "1.3.6.1.5.5.7.48.1.2")!;
    expect(new Uint8Array(AsnParser.parse(ext.extnValue.buffer, OctetString).buffer)).to.deep.equal(nonce);
    expect(
      verify(
        "sha256",
        new Uint8Array(basic.tbsResponseDataRaw!),
        { key: responder.publicKey, dsaEncoding: "der" },
        new Uint8Array(basic.signature),
      ),
    ).to.equal(true);
    expect(basic.certs).to.have.length(1);
    expect(Buffer.from(AsnConvert.serialize(basic)).equals(Buffer.from(basicDer))).to.equal(true);
    expect(Buffer.from(AsnConvert.serialize(resp)).equals(Buffer.from(der))).to.equal(true);
    expect(
      Buffer.from(AsnConvert.serialize(AsnParser.parse(certIdDer(cids[1]!), CertID))).equals(
        Buffer.from(certIdDer(cids[1]!)),
      ),
    ).to.equal(true);
  });

  it(`ok/CRL (RFC 5280 5.1): entries with reason and invalidity date, cRLNumber, AKI, delta indicator, freshestCRL; \
byte for byte`, async () => {
    const thisUpdate = new Date("2026-06-01T00:00:00Z");
    const nextUpdate = new Date("2026-06-02T00:00:00Z");
    const entries = Array.from({ length: 300 }, (_, i) => ({
      serial: (i % 2 ? "8" : "0") + "1" + i.toString(16).padStart(32, "0"),
      revokedAt: thisUpdate,
      reason: i % 3 === 0 ? undefined : i % 3 === 1 ? "keyCompromise" : "certificateHold",
      invalidityDate: i === 7 ? new Date("2026-05-30T00:00:00Z") : undefined,
    }));
    const { der } = await buildCrlTbs({
      issuer: ca,
      thisUpdate,
      nextUpdate,
      crlNumber: 4242n,
      entries,
      deltaBase: 4200n,
      freshestUrl: "http://pki.example/crl/delta.crl",
    });
    const sig = await ca.signer.sign(der);
    const crlDer = derTlv(0x30, concat(der, ca.signer.algorithmDer, derTlv(0x03, concat(Uint8Array.of(0), sig))));
    const crl = AsnParser.parse(crlDer, CertificateList);
    const t = crl.tbsCertList;
    expect(t.version).to.equal(1);
    expect(Buffer.from(AsnConvert.serialize(t.issuer)).equals(Buffer.from(ca.nameDer))).to.equal(true);
    expect(t.thisUpdate.getTime().getTime()).to.equal(thisUpdate.getTime());
    expect(t.nextUpdate!.getTime().getTime()).to.equal(nextUpdate.getTime());
    expect(t.revokedCertificates).to.have.length(300);
    t.revokedCertificates!.forEach((r, i) => {
      const hex = Buffer.from(r.userCertificate)
        .toString("hex")
        .replace(/^00(?=[89a-f])/, "");
      expect(hex).to.equal(entries[i]!.serial);
      const reason = r.crlEntryExtensions?.find((e) => e.extnID === "2.5.29.21");
      if (entries[i]!.reason === undefined) expect(reason).to.equal(undefined);
      else
        expect(AsnParser.parse(reason!.extnValue.buffer, CRLReason).reason).to.equal(
          entries[i]!.reason === "keyCompromise" ? 1 : 6,
        );
      expect(r.crlEntryExtensions?.some((e) => e.extnID === "2.5.29.24") ?? false).to.equal(i === 7);
    });
    const ext = (oid: string) => t.crlExtensions!.find((e) => e.extnID === oid)!;
    expect(Buffer.from(AsnParser.parse(ext("2.5.29.20").extnValue.buffer, CRLNumber).value.toString())).to.deep.equal(
      Buffer.from("4242"),
    );
    expect(ext("2.5.29.27").critical).to.equal(true);
    expect(
      Buffer.from(
        AsnParser.parse(ext("2.5.29.35").extnValue.buffer, AuthorityKeyIdentifier).keyIdentifier!.buffer,
      ).equals(Buffer.from(ca.ski)),
    ).to.equal(true);
    expect(ext("2.5.29.46")).to.not.equal(undefined);
    expect(Buffer.from(AsnConvert.serialize(crl)).equals(Buffer.from(crlDer))).to.equal(true);
    expect(AsnParser.parse(crlDer, CertificateList).tbsCertList.issuer).to.be.instanceOf(Name);
  });

  it(`ok/the client-certificate reader agrees with node (OpenSSL) on certificates this CA's TBS builder \
makes`, async () => {
    for (const kt of ["P-256", "RSA-2048"] as const) {
      const key = testKey(kt);
      const tbs = buildTbs({
        profile: PROFILES.get("ra-officer")!,
        issuer: ca,
        subject: ORG_SUBJECT,
        san: {},
        spki: key.spki,
        serial: "0a" + "cd".repeat(16),
        now: NOW,
      }).der;
      const cert = derTlv(
        0x30,
        concat(tbs, ca.signer.algorithmDer, derTlv(0x03, concat(Uint8Array.of(0), await ca.signer.sign(tbs)))),
      );
      const x = new X509Certificate(cert);
      expect(certificateSerialHex(parseCertificate(cert))).to.equal(x.serialNumber.toLowerCase());
      expect(x.verify(createPublicKey({ key: Buffer.from(ca.signer.spki), format: "der", type: "spki" }))).to.equal(
        true,
      );
    }
  });
});
