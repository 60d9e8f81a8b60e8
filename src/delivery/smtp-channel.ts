import nodemailer from "nodemailer";
import { isIP } from "node:net";
import { DeliveryFailure, type DeliveryChannel, type OutgoingMessage } from "./ports.js";

export interface SmtpSettings {
  /** smtp://host:port (STARTTLS) or smtps://host:port (TLS from the first byte). */
  readonly url: string;
  readonly from: string;
  /** STARTTLS must succeed before anything is sent (default); false allows a server without TLS. */
  readonly requireTls: boolean;
  /** PEM of the CA (or self-signed certificate) the server's certificate must chain to; the system's CAs otherwise. */
  readonly ca?: string;
  readonly user?: string;
  /** Read at each connection (rotation without restart); never logged. */
  readonly password?: () => Promise<string>;
  readonly timeoutMs?: number;
}

/** The domain of the From address: the right-hand side of Message-IDs. */
function domainOf(from: string): string {
  return /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? "cardpki.invalid";
}

/**
 * E-mail over SMTP (nodemailer): STARTTLS required unless configured otherwise, the server's
 * certificate verified, TLS 1.2 or later. The notification id is the Message-ID, so a message
 * sent again after a crash is recognisably the same one. A 5xx answer to the envelope or the data
 * is final (the address or the message is refused); everything else is tried again.
 */
export function smtpChannel(s: SmtpSettings): DeliveryChannel {
  const url = new URL(s.url);
  const secure = url.protocol === "smtps:";
  const port = Number(url.port || (secure ? 465 : 587));
  const domain = domainOf(s.from);
  const timeout = s.timeoutMs ?? 30_000;
  return {
    name: "email",
    description:
      `SMTP ` + `${url.host}${secure ? " (TLS)" : s.requireTls ? " (STARTTLS required)" : " (STARTTLS if offered)"}`,
    async send(m: OutgoingMessage) {
      const auth = s.user ? { user: s.user, pass: s.password ? await s.password() : "" } : undefined;
      const transport = nodemailer.createTransport({
        host: url.hostname,
        port,
        secure,
        requireTLS: !secure && s.requireTls,
        tls: {
          minVersion: "TLSv1.2",
          rejectUnauthorized: true,
          ...(isIP(url.hostname) ? {} : { servername: url.hostname }),
          ...(s.ca ? { ca: s.ca } : {}),
        },
        ...(auth ? { auth } : {}),
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
        disableFileAccess: true,
        disableUrlAccess: true,
      });
      try {
        await transport.sendMail({
          from: s.from,
          to: { name: m.to.name, address: m.to.address },
          subject: m.subject,
          text: m.body,
          date: m.createdAt,
          messageId: `<${m.id}@${domain}>`,
          headers: { "X-Cardpki-Kind": m.kind },
        });
      } catch (e) {
        const err = e as { code?: string; responseCode?: number; response?: string; message?: string };
        const what =
          `SMTP ${err.responseCode ?? ""}${err.code ? ` ${err.code}` : ""}: ` +
          `${(err.response ?? err.message ?? "").slice(0, 200)}`.replace(/\s+/g, " ");
        // 5xx is final, except an authentication refusal (a configuration to fix; the messages wait for it).
        const permanent =
          err.responseCode !== undefined && err.responseCode >= 500 && err.responseCode < 600 && err.code !== "EAUTH";
        throw new DeliveryFailure(what, permanent);
      } finally {
        transport.close();
      }
    },
  };
}
