import { expect } from "chai";
import { backoffMs, scrubError } from "../../src/delivery/delivery-worker.js";
import { renderTemplate } from "../../src/delivery/sms-gateway-channel.js";
import { letterFileName } from "../../src/delivery/letter-channel.js";
import { loadConfig } from "../../src/composition/config.js";
import { termsMessage } from "../../src/ra/order-service.js";
import { contactFields } from "../../src/ra/contact.js";
import { CaError } from "../../src/shared/ca-error.js";

describe("delivery parts (REQ-15)", () => {
  it("ok/backoff doubles from the base and stops at the cap", () => {
    const p = { backoffBaseMs: 1000, backoffMaxMs: 10_000 };
    expect([1, 2, 3, 4, 5, 40].map((a) => backoffMs(p, a))).to.deep.equal([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
  it("ok/an error a peer echoed loses the message's codes, tokens and PINs", () => {
    const e = scrubError(
      "550 rejected: 'Activation code for order x: K7PQ2MZX9A' and 482913",
      "Activation code for order x: K7PQ2MZX9A (PIN 482913)",
    );
    expect(e).to.not.match(/K7PQ2MZX9A|482913/);
    expect(e).to.match(/^550 rejected/);
  });
  it("ok/the SMS template is filled field by field; a value cannot break out of its JSON string", () => {
    const body = JSON.stringify(
      renderTemplate(
        { to: "{{to}}", msg: { text: "{{body}}", n: 1 }, keep: "{{nope}}" },
        { to: "+46701234567", body: 'say "hi"}, {"x":1' },
      ),
    );
    expect(JSON.parse(body)).to.deep.equal({
      to: "+46701234567",
      msg: { text: 'say "hi"}, {"x":1', n: 1 },
      keep: "{{nope}}",
    });
  });
  it("ok/a letter's file name is the same each time it is sent (a retry replaces it)", () => {
    const m = { id: "ab".repeat(16), createdAt: new Date("2026-03-04T05:06:07.089Z") };
    expect(letterFileName(m))
      .to.equal(`20260304T050607089Z-${m.id}.pdf`)
      .and.equal(letterFileName({ ...m }));
  });
  it("ok/the terms message holds the applicant link (token in the fragment) and the token for API clients", () => {
    const t = termsMessage("https://ra.example/", "0".repeat(32), "2026-01", "TOKEN234");
    expect(t)
      .to.include(`https://ra.example/applicant/#order=${"0".repeat(32)}&token=TOKEN234`)
      .and.include("use this token: TOKEN234");
  });
  it(`fail/SMTP credentials in the URL, a plain-http public URL, a bad SMTP TLS switch are configuration \
errors`, () => {
    for (const env of [
      { CARDPKI_SMTP_URL: "smtp://user:pw@mail.example:587" },
      { CARDPKI_RA_PUBLIC_URL: "http://ra.example" },
      { CARDPKI_SMTP_URL: "smtp://m:25", CARDPKI_SMTP_REQUIRE_TLS: "maybe" },
    ])
      expect(() => loadConfig({ CARDPKI_DATA_DIR: "/nonexistent-cardpki", ...env }), JSON.stringify(env)).to.throw(
        CaError,
        /CARDPKI_/,
      );
  });
  it(`ok/delivery settings from the environment: credentials only by reference, STARTTLS required by default, channels \
off unless set`, () => {
    const off = loadConfig({ CARDPKI_DATA_DIR: "/nonexistent-cardpki" }).delivery;
    expect(off.email).to.equal(undefined);
    expect(off.sms).to.equal(undefined);
    expect(off.mail).to.equal(undefined);
    const c = loadConfig({
      CARDPKI_DATA_DIR: "/nonexistent-cardpki",
      CARDPKI_SMTP_URL: "smtp://mail.example:587",
      CARDPKI_SMTP_PASSWORD: "x",
      CARDPKI_SMS_URL: "https://sms.example/send",
      CARDPKI_SMS_TOKEN_FILE: "/run/sms-token",
    }).delivery;
    expect(c.email).to.deep.include({
      url: "smtp://mail.example:587",
      requireTls: true,
      password: { env: "CARDPKI_SMTP_PASSWORD" },
    });
    expect(c.sms).to.deep.include({ url: "https://sms.example/send", token: { file: "/run/sms-token" } });
  });
  it("fail/a phone number not in E.164 or a postal address of one line is refused by the RA", () => {
    expect(contactFields({ phone: "+46701234567", postalAddress: "Storgatan 7\r\n111 22 Stockholm" })).to.deep.equal({
      phone: "+46701234567",
      postalAddress: "Storgatan 7\n111 22 Stockholm",
    });
    for (const bad of [
      { phone: "46701234567" },
      { phone: "+4670 1234567" },
      { postalAddress: "one line" },
      { postalAddress: `a\n${"x".repeat(81)}` },
    ])
      expect(() => contactFields(bad), JSON.stringify(bad)).to.throw(CaError, /phone|postalAddress/);
  });
});
