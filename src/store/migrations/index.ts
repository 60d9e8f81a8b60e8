import type { Knex } from "knex";
import * as m001 from "./001-certificates.js";
import * as m002 from "./002-revocation.js";
import * as m003 from "./003-crl-index.js";
import * as m004 from "./004-ra.js";
import * as m005 from "./005-ra-credentials.js";
import * as m006 from "./006-cards.js";
import * as m007 from "./007-audit-chain.js";
import * as m008 from "./008-data-keys.js";
import * as m009 from "./009-portal-sessions.js";
import * as m010 from "./010-delivery.js";
import * as m011 from "./011-self-service.js";
import * as m012 from "./012-order-subject.js";
import * as m013 from "./013-audit-timestamps.js";
import * as m014 from "./014-activation-hold.js";
import * as m015 from "./015-separation-of-duties.js";
import * as m016 from "./016-person-language.js";
import * as m017 from "./017-revocation-jobs.js";
import * as m018 from "./018-bureau.js";
import * as m019 from "./019-ocsp-responses.js";
import * as m020 from "./020-certificate-counts.js";

/** Migrations are compiled in, in order (no directory scan at run time). */
const MIGRATIONS: ReadonlyArray<[string, Knex.Migration]> = [
  ["001-certificates", m001],
  ["002-revocation", m002],
  ["003-crl-index", m003],
  ["004-ra", m004],
  ["005-ra-credentials", m005],
  ["006-cards", m006],
  ["007-audit-chain", m007],
  ["008-data-keys", m008],
  ["009-portal-sessions", m009],
  ["010-delivery", m010],
  ["011-self-service", m011],
  ["012-order-subject", m012],
  ["013-audit-timestamps", m013],
  ["014-activation-hold", m014],
  ["015-separation-of-duties", m015],
  ["016-person-language", m016],
  ["017-revocation-jobs", m017],
  ["018-bureau", m018],
  ["019-ocsp-responses", m019],
  ["020-certificate-counts", m020],
];

export const migrationSource: Knex.MigrationSource<[string, Knex.Migration]> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (m) => m[0],
  getMigration: async (m) => m[1],
};
