import { NO_PRODUCTION } from "./ra-api-client.js";
import { join } from "node:path";
import type { Clock } from "../shared/clock.js";
import { loadTermsTranslations } from "../policy/terms.js";
import { ApplicantAccess, type ApplicantPolicy } from "../ra/applicant-access.js";
import { HolderService } from "../ra/holder-service.js";
import { KnexApplicantAccessStore } from "../store/applicant-access.store.js";
import { KnexCardStore } from "../store/card.store.js";
import { cardsWith } from "./cards.js";
import type { Ra } from "./ra.js";
import type { StationParts } from "./card-station-role.js";

export interface SelfService {
  readonly applicant: ApplicantAccess;
  readonly holder: HolderService;
}

/**
 * The applicant's and holder's own pages: the applicant's single-use links and sessions (terms of
 * the current version from `policies/terms/<version>[.<language>].md`, link and session times from the RA
 * configuration) and the holder's cards, with loss reports reaching the card ledger.
 * `clock` and `policy` let a test judge expiry and rate limits without waiting.
 */
export function openSelfService(
  rt: StationParts,
  ra: Ra,
  opts: { clock?: Clock; policy?: Partial<ApplicantPolicy> } = {},
): SelfService {
  const { config, random } = rt;
  const clock = opts.clock ?? rt.clock;
  const terms = loadTermsTranslations(join(config.policyDir, "terms"), config.ra.termsVersion);
  const applicant = new ApplicantAccess({
    store: new KnexApplicantAccessStore(rt.db),
    orders: ra.orderStore,
    service: ra.orders,
    workflows: ra.workflows,
    terms,
    clock,
    random,
    policy: {
      linkMs: config.ra.applicantLinkHours * 3_600_000,
      sessionMs: config.ra.applicantSessionMinutes * 60_000,
      ...opts.policy,
    },
  });
  const ledger = new KnexCardStore(rt.db, rt.readDb, ra.cipher);
  const holder = new HolderService({
    orders: ra.orderStore,
    certs: ra.certs,
    workflows: ra.workflows,
    desk: ra.desk,
    clock,
    cards: {
      // A card the card writer personalised is barred for good (card-lifecycle's 'lost'); its certificate is revoked
      // already.
      async markLost(orderId, actor) {
        const card = await ledger.byOrder(orderId);
        if (!card || card.state === "retired" || card.state === "lost") return;
        // The holder themself (REQ-17), authenticated by their card: the card ledger only bars the card and revokes as
        // them.
        const asHolder = {
          ...NO_PRODUCTION,
          revoke: (serial: string, reason: string) => ra.certs.revoke(serial, reason, actor).then(() => undefined),
        };
        await cardsWith(rt, ra.cipher, asHolder).lifecycle.reportLost(orderId, actor);
      },
    },
  });
  return { applicant, holder };
}
