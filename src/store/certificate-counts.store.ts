import type { Knex } from "knex";

/**
 * Certificate counts for /metrics from table certificate_counts (kept by triggers as certificates
 * change): a read of a few dozen rows, whatever the population.
 */
export class KnexCertificateCounts {
  constructor(private readonly db: Knex) {}

  /** Certificates by status (reserved, issued, failed, unfinished). */
  async byStatus(): Promise<Record<string, number>> {
    const rows = await this.db("certificate_counts").groupBy("status").select("status").sum({ n: "n" });
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Certificates signed and stored (status issued: revocation keeps the status), by profile. */
  async issuedByProfile(): Promise<Record<string, number>> {
    const rows = await this.db("certificate_counts")
      .where({ status: "issued" })
      .groupBy("profile_id")
      .select("profile_id")
      .sum({ n: "n" });
    return Object.fromEntries(rows.map((r) => [r.profile_id, Number(r.n)]));
  }
}
