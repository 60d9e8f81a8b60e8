import { expect } from "chai";
import type { Server } from "node:http";
import { configureLogs, logger, REDACTED } from "../../src/shared/log.js";
import { FixedClock } from "../../src/shared/clock.js";
import { Metrics } from "../../src/http/metrics.js";
import { buildApp, listen } from "../../src/http/server.js";

describe("shared/log (pino)", () => {
  const lines: string[] = [];
  const secrets = { pin: "246810", token: "tok-5f2a9c", nationalId: "197003033456", name: "Cy Holder" };
  afterEach(() => configureLogs({}));

  it(`fail/a PIN, a token, a national ID and a name never reach a JSON log line: redacted, at the top and \
nested`, () => {
    configureLogs({ format: "json", out: (l) => void lines.push(l), clock: new FixedClock("2026-03-01T12:00:00Z") });
    const log = logger("unit");
    log.info("delivered", { notification: "n-1", ...secrets });
    log.warn("held", {
      person: { givenName: "Cy", surname: "Holder", nationalId: secrets.nationalId },
      order: { applicant: { name: secrets.name, email: "cy@example.se" } },
      card: { transportPin: "135790", newPin: "111222" },
    });
    log.error("failed", { error: new Error("HSM did not answer"), activationCode: "AB12-CD34" });
    const all = lines.join("");
    for (const s of [...Object.values(secrets), "135790", "111222", "AB12-CD34", "cy@example.se", '"Cy"', '"Holder"'])
      expect(all, s).to.not.include(s);
    const [first, second, third] = lines.map((l) => JSON.parse(l));
    expect(first).to.include({
      level: "info",
      time: "2026-03-01T12:00:00.000Z",
      component: "unit",
      msg: "delivered",
      notification: "n-1",
      pin: REDACTED,
      token: REDACTED,
      nationalId: REDACTED,
      name: REDACTED,
    });
    expect(second.person).to.deep.equal({ givenName: REDACTED, surname: REDACTED, nationalId: REDACTED });
    expect(second.order.applicant).to.deep.equal({ name: REDACTED, email: REDACTED });
    expect(second.card).to.deep.equal({ transportPin: REDACTED, newPin: REDACTED });
    // Errors stay useful: the message is kept.
    expect(third).to.include({ level: "error", error: "HSM did not answer", activationCode: REDACTED });
  });

  it("fail/the text format (CLI) redacts the same fields; ok/levels below the minimum are dropped", () => {
    const text: string[] = [];
    configureLogs({ format: "text", out: (l) => void text.push(l) });
    const log = logger("card");
    log.info("personalised", { order: "o-1", pin: secrets.pin });
    log.debug("not shown");
    log.warn("retry", { holder: { name: secrets.name } });
    expect(text).to.deep.equal([
      `card: personalised order=o-1 pin=${REDACTED}\n`,
      `warn: card: retry holder={"name":"${REDACTED}"}\n`,
    ]);
  });

  it("ok/a logger made before configureLogs writes where configureLogs says", () => {
    const early = logger("early");
    const out: string[] = [];
    configureLogs({ format: "json", out: (l) => void out.push(l) });
    early.info("serving", { role: "public" });
    expect(JSON.parse(out[0]!)).to.include({ msg: "serving", role: "public", component: "early" });
  });
});

describe("http/metrics (prom-client) through GET /metrics", () => {
  let server: Server;
  let url: string;
  const metrics = new Metrics();
  before(async () => {
    metrics.gauge("cardpki_unit_things", "Things by kind", async () => [
      { labels: { state: "b", channel: "a" }, value: 3 },
    ]);
    metrics.gauge(
      "cardpki_unit_totals",
      "Totals kept elsewhere",
      async () => [{ labels: { key: "ca:x" }, value: 7 }],
      "counter",
    );
    metrics.gauge("cardpki_unit_broken", "A value that cannot be read", async () => {
      throw new Error("database down");
    });
    server = await listen(
      buildApp({ cas: () => [], crl: async () => undefined, health: [], metrics }),
      "127.0.0.1",
      0,
      { metrics },
    );
    const a = server.address();
    url = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it(`ok/event-loop lag and process metrics, counters, histograms and scraped values; a value that cannot be read is \
left out`, async () => {
    metrics.inc("cardpki_unit_requests_total", "Requests by status", { status: "200" });
    metrics.inc("cardpki_unit_requests_total", "Requests by status", { status: "200" });
    metrics.observe("cardpki_unit_duration_seconds", "Latency", 0.003);
    await (await fetch(`${url}/metrics`)).text(); // the lag gauge is measured one scrape late (setImmediate)
    const r = await fetch(`${url}/metrics`);
    expect(r.status).to.equal(200);
    expect(r.headers.get("content-type")).to.match(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    expect(text).to.match(/^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    expect(text).to.match(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).to.match(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(text).to.match(/^process_cpu_user_seconds_total \d/m);
    expect(text).to.match(/^process_resident_memory_bytes [1-9]/m);
    expect(text).to.match(/^cardpki_unit_requests_total\{status="200"\} 2$/m);
    expect(text).to.match(/^cardpki_unit_duration_seconds_bucket\{le="0\.005"\} 1$/m);
    expect(text).to.match(/^cardpki_unit_duration_seconds_count 1$/m);
    // Label names in sorted order, as before the library.
    expect(text).to.match(/^cardpki_unit_things\{channel="a",state="b"\} 3$/m);
    expect(text).to.match(/^# TYPE cardpki_unit_totals counter$/m);
    expect(text).to.match(/^cardpki_unit_totals\{key="ca:x"\} 7$/m);
    expect(text).to.not.match(/cardpki_unit_broken/);
  });
});
