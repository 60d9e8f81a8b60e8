import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";
import { simpleParser } from "mailparser";
import { writeDemoServerCertificate } from "../../src/composition/demo-tls.js";

/** A message as the SMTP server received it, parsed (quoted-printable and the like undone). */
export interface ReceivedMail {
  readonly at: Date;
  readonly envelopeFrom: string;
  readonly envelopeTo: readonly string[];
  readonly messageId?: string;
  readonly subject: string;
  readonly text: string;
  readonly raw: string;
  /** The session ran under TLS (STARTTLS) when the message was sent. */
  readonly secure: boolean;
  /** The user the client authenticated as, if it did. */
  readonly user?: string;
}

export interface MailSink {
  readonly host: string;
  readonly port: number;
  /** smtp://127.0.0.1:<port> */
  readonly url: string;
  /** With tls: the PEM file of the server's self-signed certificate (trust it as the CA). */
  readonly caFile?: string;
  readonly messages: ReceivedMail[];
  /** Resolves with the first message that matches (waiting up to `ms`), or rejects naming what did arrive. */
  waitFor(pred: (m: ReceivedMail) => boolean, ms?: number): Promise<ReceivedMail>;
  /** The next `n` messages are refused at the end of DATA with `code` (4xx: try later; 5xx: refused). */
  fail(n: number, code?: number): void;
  stop(): Promise<void>;
}

let testCert: Promise<{ cert: string; key: string }> | undefined;
/** One self-signed server certificate for localhost / 127.0.0.1 per test process. */
export function testServerCertificate(): Promise<{ cert: string; key: string }> {
  testCert ??= writeDemoServerCertificate(mkdtempSync(join(tmpdir(), "cardpki-mail-tls-")));
  return testCert;
}

/**
 * A real SMTP server for tests (npm smtp-server) on 127.0.0.1: records every message it
 * accepted; with `tls` it offers STARTTLS under a test certificate; with `auth` it requires
 * that user and password (only after STARTTLS); `port` reopens a sink where a stopped one was.
 */
export async function startMailSink(
  opts: { tls?: boolean; auth?: { user: string; pass: string }; port?: number } = {},
): Promise<MailSink> {
  const tls = opts.tls ? await testServerCertificate() : undefined;
  const messages: ReceivedMail[] = [];
  let failures: { n: number; code: number } = { n: 0, code: 451 };
  const server = new SMTPServer({
    ...(tls ? { key: readFileSync(tls.key), cert: readFileSync(tls.cert) } : {}),
    disabledCommands: [...(tls ? [] : ["STARTTLS"]), ...(opts.auth ? [] : ["AUTH"])],
    authOptional: !opts.auth,
    banner: "cardpki test mail sink",
    logger: false,
    onAuth(auth, _session, done) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass)
        return done(null, { user: auth.username });
      done(Object.assign(new Error("authentication failed"), { responseCode: 535 }));
    },
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", async () => {
        if (failures.n > 0) {
          failures.n--;
          return done(
            Object.assign(new Error(failures.code >= 500 ? "message refused" : "try again later"), {
              responseCode: failures.code,
            }),
          );
        }
        const raw = Buffer.concat(chunks);
        const parsed = await simpleParser(raw);
        messages.push({
          at: new Date(),
          envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          ...(parsed.messageId ? { messageId: parsed.messageId } : {}),
          subject: parsed.subject ?? "",
          text: parsed.text ?? "",
          raw: raw.toString("utf8"),
          secure: session.secure,
          ...(session.user ? { user: String(session.user) } : {}),
        });
        done();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  return {
    host: "127.0.0.1",
    port,
    url: `smtp://127.0.0.1:${port}`,
    ...(tls ? { caFile: tls.cert } : {}),
    messages,
    async waitFor(pred, ms = 15_000) {
      const end = Date.now() + ms;
      for (;;) {
        const m = messages.find(pred);
        if (m) return m;
        if (Date.now() > end)
          throw new Error(
            `no matching message within ${ms} ms; received: ` +
              `${JSON.stringify(messages.map((x) => ({ to: x.envelopeTo, subject: x.subject })))}`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    fail(n, code = 451) {
      failures = { n, code };
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
