import { expect } from "chai";
import { concat, derTlv } from "../../src/asn1/der.js";
import { encodeOid } from "../../src/asn1/der-reader.js";
import { MalformedOcspRequest, parseOcspRequest } from "../../src/ca/ocsp/ocsp-request.js";
import { certIdDer } from "../../src/ca/ocsp/ocsp-response.js";
import { buildCrlTbs, readCrlInfo } from "../../src/ca/crl-builder.js";
import { assembleSigned } from "../../src/asn1/der.js";
import { softwareAuthority } from "../support/test-ca.js";
import { SigningBudget } from "../../src/ca/ocsp/signing-budget.js";
import { FixedClock } from "../../src/shared/clock.js";

const SHA1 = "1.3.14.3.2.26";
const cid = (serial = "01ab") =>
  certIdDer({ hashOid: SHA1, issuerNameHash: "11".repeat(20), issuerKeyHash: "22".repeat(20), serial });
const request = (cids: Uint8Array[], exts?: Uint8Array) =>
  derTlv(
    0x30,
    derTlv(
      0x30,
      concat(
        derTlv(0x30, concat(...cids.map((c) => derTlv(0x30, c)))),
        exts ? derTlv(0xa2, derTlv(0x30, exts)) : new Uint8Array(0),
      ),
    ),
  );
const nonceExt = (n: Uint8Array) =>
  derTlv(0x30, concat(encodeOid("1.3.6.1.5.5.7.48.1.2"), derTlv(0x04, derTlv(0x04, n))));

describe("ca/ocsp/ocsp-request (RFC 6960 4.1, RFC 8954)", () => {
  it("ok/one CertID, serial and hashes read back", () => {
    const r = parseOcspRequest(request([cid("01ab")]), 10);
    expect(r.requests).to.deep.equal([
      { hashOid: SHA1, issuerNameHash: "11".repeat(20), issuerKeyHash: "22".repeat(20), serial: "01ab" },
    ]);
    expect(r.nonce).to.equal(undefined);
  });
  it("ok/a nonce of 1..32 octets is kept; a longer one is not echoed", () => {
    expect(parseOcspRequest(request([cid()], nonceExt(new Uint8Array(32).fill(7))), 10).nonce).to.have.length(32);
    expect(parseOcspRequest(request([cid()], nonceExt(new Uint8Array(33))), 10).nonce).to.equal(undefined);
  });
  const bad: [string, Uint8Array][] = [
    ["empty body", new Uint8Array(0)],
    ["trailing bytes", concat(request([cid()]), Uint8Array.of(0))],
    ["empty requestList", derTlv(0x30, derTlv(0x30, derTlv(0x30, new Uint8Array(0))))],
    ["too many requests", request(Array.from({ length: 11 }, () => cid()))],
    [
      "negative serial",
      request(
        [
          derTlv(
            0x30,
            concat(
              derTlv(0x30, concat(encodeOid(SHA1), Uint8Array.of(5, 0))),
              derTlv(0x04, new Uint8Array(20)),
              derTlv(0x04, new Uint8Array(20)),
              Uint8Array.of(0x02, 0x01, 0x80),
            ),
          ),
        ].map((c) => c.subarray(2)),
      ),
    ],
    [
      "CertID hash of the wrong length",
      request([certIdDer({ hashOid: SHA1, issuerNameHash: "11", issuerKeyHash: "22".repeat(20), serial: "01" })]),
    ],
    [
      "unknown hash algorithm",
      request([
        certIdDer({
          hashOid: "1.2.3.4",
          issuerNameHash: "11".repeat(20),
          issuerKeyHash: "22".repeat(20),
          serial: "01",
        }),
      ]),
    ],
    ["empty nonce", request([cid()], nonceExt(new Uint8Array(0)))],
    ["indefinite length", Uint8Array.of(0x30, 0x80, 0x00, 0x00)],
    ["non-minimal length", Uint8Array.of(0x30, 0x81, 0x03, 0x30, 0x01, 0x00)],
  ];
  for (const [name, der] of bad)
    it(`fail/${name} is malformed`, () => expect(() => parseOcspRequest(der, 10)).to.throw(MalformedOcspRequest));
});

describe("ca/crl-builder (RFC 5280 5)", () => {
  it("ok/number, times and entries read back from the signed CRL; fail/nextUpdate not after thisUpdate", async () => {
    const ca = softwareAuthority();
    const thisUpdate = new Date("2026-06-01T00:00:00Z");
    const nextUpdate = new Date("2026-06-02T00:00:00Z");
    async function* entries(n: number) {
      for (let i = 0; i < n; i += 100)
        yield Array.from({ length: 100 }, (_, k) => ({
          serial: "01" + (i + k).toString(16).padStart(32, "0"),
          revokedAt: thisUpdate,
          reason: (i + k) % 2 ? "keyCompromise" : undefined,
          invalidityDate: k === 7 ? thisUpdate : undefined,
        }));
    }
    const { der, entries: count } = await buildCrlTbs({
      issuer: ca,
      thisUpdate,
      nextUpdate,
      crlNumber: 42n,
      entries: entries(1000),
    });
    expect(count).to.equal(1000);
    const crl = assembleSigned(der, ca.signer.algorithmDer, await ca.signer.sign(der));
    expect(readCrlInfo(crl)).to.deep.equal({ number: 42n, thisUpdate, nextUpdate });
    let err: unknown;
    await buildCrlTbs({ issuer: ca, thisUpdate, nextUpdate: thisUpdate, crlNumber: 1n, entries: [] }).catch(
      (e) => (err = e),
    );
    expect(String(err)).to.match(/nextUpdate must be after thisUpdate/);
  });
});

describe("ca/ocsp/signing-budget (signatures on demand per client)", () => {
  it("ok/a client gets its burst, then one more per refill interval; another client has its own bucket", () => {
    const clock = new FixedClock(new Date("2026-01-01T00:00:00Z"));
    const b = new SigningBudget(2, 3, clock);
    expect([1, 2, 3, 4].map(() => b.take("10.0.0.1"))).to.deep.equal([true, true, true, false]);
    expect(b.take("10.0.0.2")).to.equal(true);
    clock.advance(500); // 2 per second: one token back
    expect([b.take("10.0.0.1"), b.take("10.0.0.1")]).to.deep.equal([true, false]);
    clock.advance(60_000); // never more than the burst
    expect([1, 2, 3, 4].map(() => b.take("10.0.0.1"))).to.deep.equal([true, true, true, false]);
  });

  it("fail/no refill: once spent, the budget stays spent", () => {
    const clock = new FixedClock(new Date("2026-01-01T00:00:00Z"));
    const b = new SigningBudget(0, 1, clock);
    expect(b.take(undefined)).to.equal(true);
    clock.advance(3_600_000);
    expect(b.take(undefined)).to.equal(false);
  });
});
