import { languageOfCountry } from "../i18n/languages.js";
import { readFileSync } from "node:fs";
import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import { envPin, filePin } from "../hsm/pin-source.js";
import { DeliveryWorker } from "../delivery/delivery-worker.js";
import { letterChannel } from "../delivery/letter-channel.js";
import { smsGatewayChannel } from "../delivery/sms-gateway-channel.js";
import { smtpChannel } from "../delivery/smtp-channel.js";
import type { DeliveryChannel, DeliveryChannelName, Recipients } from "../delivery/ports.js";
import { KnexDeliveryStore, type DeadLetter } from "../store/delivery.store.js";
import type { DeliveryConfig, PinConfig } from "./config.js";
import type { Ra } from "./ra.js";
import type { Parts } from "./parts.js";

/**
 * A credential (SMTP password, gateway token) like a PIN: an environment variable or an owner-only file (mode 600/400).
 */
function secretReader(ref: PinConfig): () => Promise<string> {
  const src = "env" in ref ? envPin(ref.env) : filePin(ref.file);
  return () => src.read();
}

const readPem = (file: string | undefined, what: string): string | undefined => {
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new CaError("config", `${what} ${file}: ${(e as Error).message}`);
  }
};

/** The configured channels; a channel without settings is not built (its messages wait in the outbox). */
export function deliveryChannels(c: DeliveryConfig): DeliveryChannel[] {
  const out: DeliveryChannel[] = [];
  if (c.email) {
    const ca = readPem(c.email.caFile, "SMTP CA file");
    out.push(
      smtpChannel({
        url: c.email.url,
        from: c.email.from,
        requireTls: c.email.requireTls,
        ...(ca ? { ca } : {}),
        ...(c.email.user ? { user: c.email.user } : {}),
        ...(c.email.password ? { password: secretReader(c.email.password) } : {}),
      }),
    );
  }
  if (c.sms) {
    const ca = readPem(c.sms.caFile, "SMS gateway CA file");
    out.push(
      smsGatewayChannel({
        url: c.sms.url,
        ...(c.sms.token ? { token: secretReader(c.sms.token) } : {}),
        ...(ca ? { ca } : {}),
        ...(c.sms.template ? { template: c.sms.template } : {}),
      }),
    );
  }
  if (c.mail) out.push(letterChannel({ spoolDir: c.mail.spoolDir }));
  return out;
}

/** Addresses from the person record at send time (sealed at rest, REQ-29); an unbound person gets nothing. */
export function directoryRecipients(ra: Ra): Recipients {
  return {
    async address(personId: string, channel: DeliveryChannelName) {
      const bound = await ra.directory.personWithOrganisation(personId);
      if (!bound || bound.person.unboundAt) return undefined;
      const p = bound.person;
      const address = channel === "email" ? p.email : channel === "sms" ? p.phone : p.postalAddress;
      // The person's language chosen at binding, else the organisation's country's (SE sv, DK da, else en).
      return address
        ? {
            name: p.name,
            address,
            language: p.language ?? languageOfCountry(bound.organisation.country),
            organisation: bound.organisation.name,
          }
        : undefined;
    },
  };
}

export interface Delivery {
  readonly worker: DeliveryWorker;
  readonly store: KnexDeliveryStore;
  /** For the RA API: dead letters of an organisation (all for undefined) and a retry, audited. */
  deadLetters(organisationId: string | undefined): Promise<DeadLetter[]>;
  retry(id: string, organisationId: string | undefined, actor: string): Promise<boolean>;
}

/** REQ-15: the outbox's delivery worker over the database part and the RA's directory. */
export function openDelivery(
  rt: Parts<"config" | "clock" | "random" | "db" | "readDb">,
  ra: Ra,
  opts: { channels?: readonly DeliveryChannel[] } = {},
): Delivery {
  const c = rt.config.delivery;
  const store = new KnexDeliveryStore(rt.db, rt.readDb, ra.cipher);
  const worker = new DeliveryWorker({
    queue: store,
    recipients: directoryRecipients(ra),
    channels: opts.channels ?? deliveryChannels(c),
    clock: rt.clock,
    random: rt.random,
    policy: {
      maxAttempts: c.maxAttempts,
      backoffBaseMs: c.backoffSeconds * 1000,
      backoffMaxMs: c.backoffMaxSeconds * 1000,
      leaseMs: c.leaseSeconds * 1000,
    },
  });
  return {
    worker,
    store,
    deadLetters: (organisationId) => store.deadLetters(organisationId),
    retry: (id, organisationId, actor) => store.retry(id, organisationId, actor, rt.clock.now(), newId(rt.random)),
  };
}
