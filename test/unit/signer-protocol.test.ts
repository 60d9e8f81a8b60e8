import { expect } from "chai";
import { parseSignerRequest, parseSignerResponse } from "../../src/rpc/signer-protocol.js";
import { CaError } from "../../src/shared/ca-error.js";

const refusal = (fn: () => unknown): CaError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof CaError) return e;
    throw e;
  }
  throw new Error("accepted");
};

describe("CA signer protocol v1 (schema-checked both ways)", () => {
  it("ok/the two operations of version 1 pass as they are", () => {
    expect(parseSignerRequest({ v: 1, op: "describe" })).to.deep.equal({ v: 1, op: "describe" });
    expect(parseSignerRequest({ v: 1, op: "sign-certificate", ca: "demo-issuing", tbs: "MAMCAQA=" })).to.include({
      op: "sign-certificate",
    });
    expect(
      parseSignerResponse({ v: 1, ok: true, result: { op: "sign-certificate", signature: "MEUCIQ==" } }).ok,
    ).to.equal(true);
    expect(parseSignerResponse({ v: 1, ok: false, error: { kind: "forbidden", message: "no" } }).ok).to.equal(false);
  });

  it("fail/another version, an unknown operation, extra or missing fields are refused in words", () => {
    expect(refusal(() => parseSignerRequest({ v: 2, op: "describe" })).message).to.match(
      /unsupported signer protocol version 2 \(this signer speaks version 1\)/,
    );
    expect(refusal(() => parseSignerRequest({ v: "1", op: "describe" })).message).to.match(
      /unsupported signer protocol version "1"/,
    );
    expect(refusal(() => parseSignerRequest({ v: 1, op: "sign-crl", tbs: "AAAA" })).message).to.match(
      /unknown operation "sign-crl"/,
    );
    expect(refusal(() => parseSignerRequest({ v: 1, op: "describe", debug: true })).message).to.match(
      /must NOT have additional properties/,
    );
    expect(
      refusal(() => parseSignerRequest({ v: 1, op: "sign-certificate", ca: "../x", tbs: "AAAA" })).message,
    ).to.match(/\/ca must match pattern/);
    expect(
      refusal(() => parseSignerRequest({ v: 1, op: "sign-certificate", ca: "demo-issuing", tbs: "not base64!" }))
        .message,
    ).to.match(/\/tbs must match pattern/);
    // Only what is wrong with the message of its operation: no word of the union or of the other operation's op.
    expect(refusal(() => parseSignerRequest({ v: 1, op: "sign-certificate" })).message).to.equal(
      "malformed signer message: / must have required property 'ca'; / must have required property 'tbs'",
    );
    expect(refusal(() => parseSignerRequest([1, 2])).kind).to.equal("invalid-input");
    expect(refusal(() => parseSignerRequest(null)).kind).to.equal("invalid-input");
  });

  it("fail/an answer outside the protocol is not trusted (unknown error kind, extra fields)", () => {
    expect(
      refusal(() => parseSignerResponse({ v: 1, ok: false, error: { kind: "teapot", message: "x" } })).kind,
    ).to.equal("internal");
    expect(
      refusal(() =>
        parseSignerResponse({ v: 1, ok: true, result: { op: "sign-certificate", signature: "MEUCIQ==", key: "leak" } }),
      ).kind,
    ).to.equal("internal");
    expect(refusal(() => parseSignerResponse({ v: 2, ok: true, result: { op: "describe", cas: [] } })).kind).to.equal(
      "internal",
    );
  });
});
