import { expect } from "chai";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createPrivateKey, randomInt, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { freePort } from "../support/free-port.js";
import { loadConfig, type Config } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { refusalWords } from "../../src/i18n/refusal-words.js";
import { orderReference } from "../../src/shared/order-reference.js";
import { CLI, demoEnvReady, waitFor, type DemoEnv } from "../support/environment.js";
import { credOf, demoOfficerCreds, raRequest, type ClientCred, type Cred, type Reply } from "../support/ra-client.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";

const LANGS = ["en", "sv", "da"] as const;
type Lang = (typeof LANGS)[number];
/** What no refusal a person reads may hold: a state name, a hex id, a path, a schema pattern, a workflow id. */
const LEAK = new RegExp(
  /\b(REQUESTED|TERMS_ACCEPTED|IDENTIFIED|APPROVED|IN_PRODUCTION|PRODUCED|HANDED_OUT|ACTIVE)\b/.source +
    "|" +
    /\b[0-9a-f]{16,}\b|(^|\s)\/[a-z]|file:|\^\[|\]\{|loa[23]-card-order/.source,
);
const LABEL = /^[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}$/;

/**
 * Names where people read them and refusals in plain words (REQ-27, REQ-23), over real HTTPS with
 * the demo officers' client certificates and a customer officer's own card: names only for callers
 * entitled to the person's organisation, each read in the audit trail as personal-data access (read
 * with `cardpki audit events`), every class of refusal in English, Swedish and Danish as the
 * `Accept-Language` asks, and the notifications delivered in the recipient's language to the SMTP
 * server and SMS stub of this test.
 */
describe(`names for entitled callers, refusals in words, notifications in en/sv/da (REQ-27, REQ-23, \
REQ-15)`, function () {
  this.timeout(300_000);
  let demo: DemoEnv;
  let config: Config;
  let svc: Service | undefined;
  let peers: DeliveryPeers;
  let base: URL;
  let serverCa: string;
  let D: Record<string, ClientCred>;
  // this file's people and organisations, apart from other files' on the shared demo
  const run = randomInt(100_000, 999_999);
  // YYYYMMDDNNNN, born 1965-05-05
  const se = (n: number) => `1965050${5}${String(run).slice(0, 2)}${String(n).padStart(2, "0")}`;
  // DDMMYY-SSSS, century digit 1: born 1965-05-05
  const dk = (n: number) => `050565${1}${String(run).slice(0, 1)}${String(n).padStart(2, "0")}`;
  const DECEASED = `19300303${String(run).slice(0, 4)}`;
  const S: Record<string, string> = {}; // ids
  let karen: Cred;

  const call = (
    method: string,
    path: string,
    o: { body?: unknown; cred?: ClientCred; lang?: Lang } = {},
  ): Promise<Reply> =>
    raRequest({ base, ca: serverCa }, method, `/api/v1${path}`, {
      ...(o.body !== undefined ? { body: o.body } : {}),
      ...(o.cred ? { cred: o.cred } : {}),
      ...(o.lang ? { headers: { "accept-language": o.lang } } : {}),
      agent: false,
    });
  const ok = async (p: Promise<Reply>, status = 200) => {
    const r = await p;
    expect(r.status, r.text).to.equal(status);
    return r.body;
  };
  const act = (id: string, action: string, cred: ClientCred, body: unknown = {}, lang?: Lang) =>
    call("POST", `/orders/${id}/actions/${action}`, { body, cred, ...(lang ? { lang } : {}) });
  const doc = { type: "passport", number: `NW${run}`, expires: "2034-01-01" };
  /** `cardpki audit events` as a subprocess: the audit trail as an auditor reads it. */
  const auditEvents = (args: string[]): Promise<any[]> =>
    new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        [CLI, "audit", "events", "--operator", "names-test", ...args],
        { env: demo.env, maxBuffer: 64 * 1024 * 1024 },
        (e, stdout, stderr) =>
          e
            ? reject(new Error(`${e.message}\n${stderr}`))
            : resolve(
                stdout
                  .split("\n")
                  .filter(Boolean)
                  .map((l) => JSON.parse(l)),
              ),
      ),
    );
  /**
   * A refusal as a person reads it: a problem with a code, the words the catalogue has for it in `lang`, no internal
   * name, id, path or pattern.
   */
  const inWords = (r: Reply, status: number, code: string, lang: Lang) => {
    expect(r.status, r.text).to.equal(status);
    expect([r.headers["content-type"], r.headers["content-language"], r.body.code, r.body.lang], r.text).to.deep.equal([
      "application/problem+json",
      lang,
      code,
      lang,
    ]);
    const words = refusalWords(lang, { kind: r.body.type.split(":").pop(), code, params: r.body.params ?? {} });
    expect(words.worded, `${code} has words`).to.equal(true);
    expect(r.body.detail.startsWith(words.detail), `${lang} ${code}: ${r.body.detail}`).to.equal(true);
    expect(r.body.title).to.equal(words.title);
    expect(`${r.body.title} ${r.body.detail}`).to.not.match(LEAK);
    return r.body;
  };

  before(async function () {
    demo = await demoEnvReady(this, "sqlite");
    trustFixtureMaker(demo.caStore); // REQ-14: the software test cards' maker root
    peers = await startDeliveryPeers();
    config = loadConfig({
      ...demo.env,
      ...peers.env,
      CARDPKI_PORT: "0",
      CARDPKI_RA_PORT: "0",
      CARDPKI_HOST: "127.0.0.1",
    });
    const reg = JSON.parse(readFileSync(config.ra.registerFile, "utf8"));
    for (let i = 0; i < 10; i++) reg.people[se(i)] = { status: "alive", givenName: "Sven", surname: `Svensson ${i}` };
    for (let i = 0; i < 10; i++) reg.people[dk(i)] = { status: "alive", givenName: "Dorte", surname: `Dansk ${i}` };
    reg.people[DECEASED] = { status: "deceased", givenName: "Gone", surname: "Person" };
    writeFileSync(config.ra.registerFile, JSON.stringify(reg));
    svc = await startService(config);
    base = new URL(svc.ra!.url);
    serverCa = readFileSync(config.ra.tlsCert, "utf8");
    D = demoOfficerCreds(config.dataDir);
  });
  after(async () => {
    await svc?.stop();
    await peers?.stop();
  });

  const organisation = async (name: string, country: string) => {
    const o = await ok(
      call("POST", "/organisations", {
        body: { orgNumber: `${country}${run}${name.length}`, name, country },
        cred: D.ada,
      }),
      201,
    );
    await ok(
      call("POST", `/organisations/${o.id}/onboarding`, {
        body: {
          registrationCertificate: "register extract",
          domain: `${country.toLowerCase()}${run}.example`,
          domainValidationMethod: "dns-txt",
        },
        cred: D.ada,
      }),
    );
    return o.id as string;
  };
  const bind = async (org: string, nationalId: string, name: string, extra: Record<string, unknown> = {}) =>
    ok(
      call("POST", `/organisations/${org}/people`, {
        body: {
          nationalId,
          name,
          email: `${name.split(" ")[0]!.toLowerCase()}.${run}@people.example`,
          phone: `+4670${run}${String(randomInt(10, 99))}`,
          ...extra,
        },
        cred: D.ada,
      }),
      201,
    );
  const accept = async (orderId: string) =>
    ok(
      call("POST", `/applicant/orders/${orderId}/accept-terms`, {
        body: { token: await peers.termsToken(orderId), termsVersion: config.ra.termsVersion, accepted: true },
      }),
    );

  it(`ok/setup: a Danish customer with its own officer's card (LoA3 through service-owner staff), a Swedish customer \
with applicants; people bound with birth date, masked national ID and language`, async () => {
    S.dk = await organisation("Kunde ApS", "DK");
    S.se = await organisation("Kund AB", "SE");
    const k = await bind(S.dk, dk(0), "Karen Kunde");
    expect(k).to.deep.include({
      name: "Karen Kunde",
      birthDate: "1965-05-05",
      nationalIdMasked: `${dk(0).slice(0, 6)}-****`,
      language: "da",
    });
    expect(k.label).to.match(LABEL);
    S.karen = k.id;
    await ok(
      call("PUT", `/people/${k.id}/officer`, {
        body: { roles: ["ra-officer"], qualification: "RA identity proofing", qualifiedUntil: "2035-01-01" },
        cred: D.ada,
      }),
    );
    // Karen's officer card: fi orders, bo and cy identify, di approves and releases, ed produces, fi hands out; the
    // card activates itself.
    const o = await ok(
      call("POST", "/orders", {
        body: { personId: k.id, workflowId: "loa3-card-order", nationalId: dk(0), purpose: "officer" },
        cred: D.fi,
      }),
      201,
    );
    S.karenOrder = o.id;
    await accept(o.id);
    await ok(act(o.id, "identify", D.bo!, { document: doc, faceCompared: true }));
    await ok(act(o.id, "identify", D.cy!, { document: doc, faceCompared: true }));
    await ok(act(o.id, "approve", D.di!));
    await ok(act(o.id, "start-production", D.di!));
    const made = await attestedCardFor(svc!.parts, svc!.ra!.ra, o.id);
    const produced = await ok(act(o.id, "produce", D.ed!, made.body));
    await ok(act(o.id, "hand-out", D.fi!, { secondIdentification: { document: doc, faceCompared: true } }));
    karen = credOf(
      { key: made.privateKey.export({ type: "pkcs8", format: "pem" }) as string, spki: made.spki },
      Buffer.from(produced.certificate, "base64"),
    );
    await ok(
      call("POST", `/orders/${o.id}/transport-pin-replaced`, { body: { cardSerial: made.cardSerial }, cred: D.ed }),
    );
    const ch = await ok(call("GET", `/holder/orders/${o.id}/activation-challenge`, { cred: karen }));
    const activated = await ok(
      call("POST", `/holder/orders/${o.id}/activate`, {
        body: {
          challengeSignature: sign(ch.hash, Buffer.from(ch.message), createPrivateKey(karen.key)).toString("base64url"),
        },
        cred: karen,
      }),
    );
    expect(activated.state).to.equal("ACTIVE");
    S.karenSerial = karen.serial;

    const sven = await bind(S.se, se(1), "Sven Svensson");
    expect(sven).to.deep.include({
      birthDate: "1965-05-05",
      nationalIdMasked: `${se(1).slice(0, 8)}-****`,
      language: "sv",
    });
    S.sven = sven.id;
    S.dorte = (await bind(S.dk, dk(1), "Dorte Dansk")).id;
    S.emma = (await bind(S.dk, dk(2), "Emma English", { language: "en" })).id;
    S.gone = (await bind(S.se, DECEASED, "Gone Person")).id;
  });

  it(`ok/the terms mail in the applicant's language: Swedish and Danish by the organisation's country, English as \
chosen at binding`, async () => {
    expect(S.karen, "depends on the setup test").to.be.a("string");
    S.svenOrder = (
      await ok(
        call("POST", "/orders", {
          body: { nationalId: se(1), organisationId: S.se, workflowId: "loa3-card-order" },
          cred: D.bo,
        }),
        201,
      )
    ).id;
    S.dorteOrder = (
      await ok(
        call("POST", "/orders", { body: { nationalId: dk(1), workflowId: "loa2-card-order" }, cred: karen }),
        201,
      )
    ).id;
    S.emmaOrder = (
      await ok(
        call("POST", "/orders", { body: { nationalId: dk(2), workflowId: "loa3-card-order" }, cred: karen }),
        201,
      )
    ).id;
    const [sv, da, en] = await Promise.all([
      peers.terms(S.svenOrder),
      peers.terms(S.dorteOrder),
      peers.terms(S.emmaOrder),
    ]);
    expect([sv.message.subject, da.message.subject, en.message.subject]).to.deep.equal([
      "Din kortbeställning: godkänn villkoren",
      "Din kortbestilling: accepter betingelserne",
      "Your card order: accept the terms",
    ]);
    // Who ordered and what for, the order by its short reference (never its id outside the link and the API clients'
    // line).
    expect(sv.message.text)
      .to.include(
        "Kund AB har beställt ett eID-kort åt dig. För att få det läser du " +
          "användarvillkoren (version 2026-01) och godkänner dem på den här sidan:",
      )
      .and.include(sv.link!)
      .and.include(`Referens för supporten: ${orderReference(S.svenOrder)}`);
    expect(da.message.text)
      .to.include(
        "Kunde ApS har bestilt et eID-kort til dig. For at få det skal du læse " +
          "brugsvilkårene (version 2026-01) og acceptere dem på denne side:",
      )
      .and.include(da.link!)
      .and.include(`Reference til supporten: ${orderReference(S.dorteOrder)}`);
    expect(en.message.text)
      .to.include(
        "Kunde ApS has ordered an eID card for you. To receive it, read the terms of " +
          "use (version 2026-01) and accept them on this page:",
      )
      .and.include(`Reference for the service desk: ${orderReference(S.emmaOrder)}`);
    for (const [m, id] of [
      [sv, S.svenOrder],
      [da, S.dorteOrder],
      [en, S.emmaOrder],
    ] as const)
      expect(
        m.message.text
          .split("\n")
          .filter((l) => l.includes(id!))
          .map((l) => l.includes("https://") || /API/.test(l)),
        "the id only in the link and the API clients' line",
      ).to.deep.equal([true, true]);
  });

  it(`ok/names for entitled callers, each read audited as personal-data access; fail/an officer of another \
organisation gets no name and a refusal in words`, async () => {
    expect(S.svenOrder, "depends on the earlier tests").to.be.a("string");
    // Service-owner staff serve every organisation: the applicant's name, birth date and masked national ID for the
    // identify screen.
    const seen = await ok(call("GET", `/orders/${S.svenOrder}`, { cred: D.bo }));
    expect(seen.applicant).to.deep.include({
      id: S.sven,
      name: "Sven Svensson",
      birthDate: "1965-05-05",
      nationalIdMasked: `${se(1).slice(0, 8)}-****`,
    });
    expect(seen.applicant.label).to.match(LABEL);
    expect(seen.organisation).to.deep.equal({ id: S.se, name: "Kund AB" });
    expect(seen.actors.map((a: any) => [a.action, a.name])).to.deep.equal([["request", "Bo Officer"]]);
    const read = await auditEvents(["--object", S.sven!, "--action", "personal-data.read"]);
    const bo = (await ok(call("GET", "/me", { cred: D.bo }))).personId;
    expect(
      read.some(
        (e) =>
          e.actor === `officer:${bo}` &&
          e.outcome === "success" &&
          e.details.requirement === "REQ-27" &&
          e.details.via === `GET /api/v1/orders/${S.svenOrder}`,
      ),
      JSON.stringify(read),
    ).to.equal(true);

    // Karen, an officer of the Danish customer: the Swedish customer's order, person and search are refused, in Danish,
    // with no name in the answer.
    for (const r of [
      await call("GET", `/orders/${S.svenOrder}`, { cred: karen, lang: "da" }),
      await call("GET", `/people/${S.sven}`, { cred: karen, lang: "da" }),
      await call("GET", `/people?nationalId=${se(1)}&organisationId=${S.se}`, { cred: karen, lang: "da" }),
    ]) {
      inWords(r, 403, "scope.other-organisation", "da");
      expect(r.body.detail).to.equal("Dette tilhører en anden organisation; du må kun handle for din egen.");
      expect(r.text).to.not.include("Sven");
    }
    const before = (await auditEvents(["--object", S.sven!, "--action", "personal-data.read"])).length;
    expect(before, "a refused read reads nothing").to.equal(read.length);

    // Her own organisation's people by national ID: the name, audited; the staff officers on her own card's order by
    // label only.
    const found = await ok(call("GET", `/people?nationalId=${dk(1)}`, { cred: karen }));
    expect(found.map((p: any) => [p.id, p.name, p.organisationName, p.birthDate])).to.deep.equal([
      [S.dorte, "Dorte Dansk", "Kunde ApS", "1965-05-05"],
    ]);
    const karenMe = await ok(call("GET", "/me", { cred: karen }));
    expect(
      (await auditEvents(["--object", S.dorte!, "--action", "personal-data.read"])).some(
        (e) => e.actor === `officer:${karenMe.personId}` && e.details.via === "GET /api/v1/people",
      ),
    ).to.equal(true);
    expect(await ok(call("GET", `/people?nationalId=${dk(9)}`, { cred: karen }))).to.deep.equal([]);
    const own = await ok(call("GET", `/orders/${S.karenOrder}`, { cred: karen }));
    expect(own.applicant.name).to.equal("Karen Kunde");
    expect(own.identifications.map((i: any) => [i.byName, LABEL.test(i.byLabel)])).to.deep.equal([
      [undefined, true],
      [undefined, true],
    ]);
    const byStaff = own.actors.filter((a: any) => a.action !== "activate");
    expect(byStaff.length).to.equal(7);
    expect(
      byStaff.every((a: any) => a.name === undefined && LABEL.test(a.label)),
      JSON.stringify(own.actors),
    ).to.equal(true);
    expect(own.actors.find((a: any) => a.action === "activate").name, "her own step, her own name").to.equal(
      "Karen Kunde",
    );
    const staffView = await ok(call("GET", `/orders/${S.karenOrder}`, { cred: D.di }));
    expect(staffView.identifications.map((i: any) => i.byName)).to.deep.equal(["Bo Officer", "Cy Officer"]);
    expect(staffView.identifications.map((i: any) => i.byLabel)).to.deep.equal(
      own.identifications.map((i: any) => i.byLabel),
    ); // labels are the same for every reader
    const timeline = await ok(call("GET", `/orders/${S.karenOrder}/timeline`, { cred: karen }));
    const officers = timeline.filter((e: any) => e.actorKind === "officer");
    expect(officers.length).to.be.greaterThan(4);
    expect(officers.every((e: any) => LABEL.test(e.actorLabel) && e.actorName === undefined)).to.equal(true);
    expect(timeline.filter((e: any) => e.actorKind === "holder").map((e: any) => e.actorName)).to.include(
      "Karen Kunde",
    );

    // Who am I; what I may pick.
    expect(karenMe).to.deep.include({
      name: "Karen Kunde",
      organisation: { id: S.dk, name: "Kunde ApS", country: "DK" },
    });
    expect(karenMe.label).to.match(LABEL);
    expect((await ok(call("GET", "/organisations", { cred: karen }))).map((o: any) => [o.name, o.mine])).to.deep.equal([
      ["Kunde ApS", true],
    ]);
    const all = await ok(call("GET", "/organisations", { cred: D.ada }));
    expect(all[0].mine).to.equal(true);
    expect(all.map((o: any) => o.name)).to.include.members(["Kunde ApS", "Kund AB"]);

    // Evidence of Karen's card: people by name for the service owner's auditor, the raw actor kept apart.
    const ev = await ok(call("GET", `/audit/evidence/${S.karenSerial}`, { cred: D.gu }));
    const officerSteps = ev.story.filter((s: any) => /^officer:/.test(s.actorId ?? ""));
    expect(officerSteps.length).to.be.greaterThan(4);
    expect(officerSteps.every((s: any) => !/[0-9a-f]{32}/.test(s.actor))).to.equal(true);
    expect(officerSteps.map((s: any) => s.actor)).to.include.members([
      `Bo Officer (${staffView.identifications[0].byLabel})`,
    ]);
    const verdicts = JSON.stringify(ev.verdicts.map((v: any) => v.detail));
    expect(Object.keys(ev.people).length).to.be.greaterThan(4);
    for (const id of Object.keys(ev.people)) expect(verdicts, "verdicts name people, not ids").to.not.include(id);
    expect(verdicts).to.include("Bo Officer");
    expect(ev.people[S.karen!]).to.deep.include({ name: "Karen Kunde" });
  });

  it(`ok/every class of refusal in words in English, Swedish and Danish: workflow state, guard, separation of duties, \
role, scope, register, validation`, async () => {
    expect(S.svenOrder, "depends on the earlier tests").to.be.a("string");
    const svenOrder2 = (
      await ok(
        call("POST", "/orders", {
          body: { nationalId: se(1), organisationId: S.se, workflowId: "loa3-card-order" },
          cred: D.fi,
        }),
        201,
      )
    ).id;
    await accept(svenOrder2);
    await ok(act(svenOrder2, "identify", D.bo!, { document: doc, faceCompared: true }));
    const situation = {
      en: "The applicant has not accepted the terms yet.",
      sv: "Den sökande har inte godkänt villkoren än.",
      da: "Ansøgeren har ikke accepteret betingelserne endnu.",
    };
    const deceased = { en: /as deceased/, sv: /som avliden/, da: /som død/ };
    const nationalIdRule = {
      en: /^A national ID number has 4 to 32 digits or letters/,
      sv: /^Ett personnummer har 4 till 32 siffror eller bokstäver/,
      da: /^Et CPR- eller personnummer har 4 til 32 cifre eller bogstaver/,
    };
    for (const lang of LANGS) {
      // The order waits for the applicant: "identify" in REQUESTED, in words of what the order waits for.
      const state = inWords(
        await act(S.svenOrder!, "identify", D.cy!, { document: doc, faceCompared: true }, lang),
        409,
        "order.action-not-in-state",
        lang,
      );
      expect(state.detail).to.equal(situation[lang]);
      // A guard: the same officer identifies twice.
      expect(
        inWords(
          await act(svenOrder2, "identify", D.bo!, { document: doc, faceCompared: true }, lang),
          422,
          "guard.distinct-identifiers",
          lang,
        ).rule,
      ).to.equal("distinct-identifiers");
      // A guard with facts: approval before the second identification (numbers in words).
      expect(
        inWords(await act(svenOrder2, "approve", D.di!, {}, lang), 422, "guard.identifications-complete.count", lang)
          .detail,
      ).to.match(/2/);
      // Separation of duties: the identifier approves (after a second identification, below, the first time round).
      // A role the caller lacks (route roles), a document type the workflow does not accept.
      inWords(
        await call("POST", "/organisations", {
          body: { orgNumber: "X1234", name: "X", country: "SE" },
          cred: karen,
          lang,
        }),
        403,
        "access.needs-role",
        lang,
      );
      inWords(
        await act(
          svenOrder2,
          "identify",
          D.cy!,
          { document: { ...doc, type: "library-card" }, faceCompared: true },
          lang,
        ),
        422,
        "guard.document-accepted.type",
        lang,
      );
      // The register: a deceased person, without the register file's path.
      const gone = inWords(
        await call("POST", "/orders", {
          body: { personId: S.gone, workflowId: "loa3-card-order", nationalId: DECEASED },
          cred: D.bo,
          lang,
        }),
        422,
        "register.not-alive",
        lang,
      );
      expect([gone.detail, gone.requirement, gone.registerStatus]).to.satisfy(
        ([d, r, s]: [string, string, string]) => deceased[lang].test(d) && r === "REQ-07" && s === "deceased",
      );
      expect(JSON.stringify(gone)).to.not.include(config.ra.registerFile);
      // Validation: a short national ID, in words tied to the field, never the pattern.
      const short = inWords(
        await call("POST", "/orders", { body: { nationalId: "12", workflowId: "loa3-card-order" }, cred: D.bo, lang }),
        400,
        "validation.invalid-body",
        lang,
      );
      expect([short.field, short.errors.length, short.errors[0].pointer]).to.deep.equal([
        "nationalId",
        1,
        "/nationalId",
      ]);
      expect(short.errors[0].detail).to.match(nationalIdRule[lang]);
      expect(short.detail).to.include(short.errors[0].detail);
      expect(JSON.stringify(short)).to.not.include("^[0-9A-Za-z");
    }
    await ok(act(svenOrder2, "identify", D.cy!, { document: doc, faceCompared: true }));
    for (const lang of LANGS) {
      const sep = inWords(await act(svenOrder2, "approve", D.bo!, {}, lang), 422, "separation.other-step", lang);
      expect([sep.rule, sep.requirement]).to.deep.equal(["separation-of-duties", "REQ-10"]);
    }
    expect(
      inWords(await act(svenOrder2, "approve", D.bo!, {}, "sv"), 422, "separation.other-step", "sv").detail,
    ).to.equal(
      "Du gjorde ett annat steg i beställningen (identifiera den sökande), så en " +
        "annan person måste godkänna för tillverkning.",
    );
    // Every refused request above is in the audit trail with its code.
    const refused = await auditEvents([
      "--object",
      `/api/v1/orders/${svenOrder2}/actions/approve`,
      "--outcome",
      "failure",
    ]);
    expect(refused.map((e) => e.details.refusal.code)).to.include.members([
      "guard.identifications-complete.count",
      "separation.other-step",
    ]);
  });

  it("ok/a LoA2 activation code by SMS in Danish to a Danish organisation's holder", async () => {
    expect(S.dorteOrder, "depends on the earlier tests").to.be.a("string");
    await accept(S.dorteOrder!);
    await ok(act(S.dorteOrder!, "identify", D.bo!, { document: doc, faceCompared: true }));
    await ok(act(S.dorteOrder!, "approve", D.cy!));
    await ok(act(S.dorteOrder!, "start-production", D.cy!));
    const made = await attestedCardFor(svc!.parts, svc!.ra!.ra, S.dorteOrder!);
    await ok(act(S.dorteOrder!, "produce", D.ed!, made.body));
    await ok(act(S.dorteOrder!, "send-by-mail", D.di!, { cardChannel: "mail", activationCodeChannel: "sms" }));
    const code = await peers.activationCode(S.dorteOrder!);
    const sms = (await peers.received()).find((m) => m.channel === "sms" && m.text.includes(code))!;
    expect(sms.text).to.equal(
      `Aktiveringskode til dit nye eID-kort fra Kunde ApS: ${code}\nIndtast den, ` +
        `når du aktiverer kortet på kortholdersiderne.\nReference til supporten: ${orderReference(S.dorteOrder!)}`,
    );
  });

  it(`fail/no card reader service at the card station: 503 in words in each language, the cause in the server's log \
only`, async () => {
    expect(S.karen, "depends on the setup test").to.be.a("string");
    // The RA server as its own process, with no PC/SC daemon to reach (pcsc-lite's socket moved away): the in-process
    // service steps aside for it.
    await svc!.stop();
    svc = undefined;
    const raPort = await freePort();
    let log = "";
    const child: ChildProcess = spawn(process.execPath, [CLI, "serve"], {
      env: {
        ...demo.env,
        ...peers.env,
        CARDPKI_PORT: String(await freePort()),
        CARDPKI_RA_PORT: String(raPort),
        CARDPKI_HOST: "127.0.0.1",
        CARDPKI_DRAIN_SECONDS: "0",
        PCSCLITE_CSOCK_NAME: `/nonexistent/pcscd-${run}.comm`,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr!.on("data", (d) => (log += d));
    try {
      base = new URL(`https://127.0.0.1:${raPort}`);
      expect(
        await waitFor(
          async () => (await call("GET", "/me", { cred: D.ed }).catch(() => ({ status: 0 }))).status === 200,
          60_000,
          100,
        ),
        "cardpki serve came up",
      ).to.equal(true);
      const words = {
        en: "The card reader service (pcscd) is not running on the card station",
        sv: "Kortläsartjänsten (pcscd) körs inte på kortstationen",
        da: "Kortlæsertjenesten (pcscd) kører ikke på kortstationen",
      };
      for (const lang of LANGS) {
        const r = await call("GET", "/card-station/readers", { cred: D.ed, lang });
        inWords(r, 503, "card.reader-service-down", lang);
        expect(r.body.detail)
          .to.include(words[lang])
          .and.not.match(/SCard|0x8010|internal error/i);
        expect(r.body.incident).to.match(/^[0-9a-f-]{36}$/);
        expect(await waitFor(() => log.includes(r.body.incident), 5000), "the incident in the log").to.equal(true);
        const line = log.split("\n").find((l) => l.includes(r.body.incident))!;
        expect(line, "the cause in the log").to.match(/PC\/SC is not available \(is pcscd running\?\)/);
      }
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});
