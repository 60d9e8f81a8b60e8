import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import { insertAuditEvent } from "./audit.store.js";
import { FieldCipher } from "./field-cipher.js";

/**
 * REQ-29: every column that holds personal data in clear text before it is sealed, by table (the
 * row id is the `id` column). National ID and document numbers are keyed hashes (REQ-28) and
 * card secrets are sealed by the card key (REQ-29): neither is listed here.
 */
export const PERSONAL_DATA_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  people: ["name", "email", "phone", "postal_address", "birth_date", "national_id_masked"],
  notifications: ["subject", "body"],
  orders: ["registered_name"], // REQ-07: the register's answer, JSON
};

export interface SealReport {
  readonly table: string;
  /** Rows read. */
  readonly rows: number;
  /** Rows written: a value in clear or under an older data key was sealed under the current key. */
  readonly sealed: number;
}

/**
 * Seals what is not sealed under the current data key yet: legacy cleartext rows (written before
 * REQ-29) and values under an older data key (after a rotation). Walks each table by id in
 * batches; each batch is one transaction with its audit event (no audit, no change). Values that
 * fail authentication stop the run with the cipher's error; nothing is overwritten with garbage.
 */
/** A row of a table with personal data: its id and its personal-data columns, all text (sealed or not yet). */
type SealableRow = { readonly id: string } & Readonly<Record<string, string | null>>;

export class KnexPersonalDataStore {
  constructor(
    private readonly db: Knex,
    private readonly cipher: FieldCipher,
  ) {}

  async sealExisting(audit: (table: string, ids: readonly string[]) => AuditEvent, batch = 500): Promise<SealReport[]> {
    const out: SealReport[] = [];
    for (const [table, columns] of Object.entries(PERSONAL_DATA_COLUMNS)) {
      let after = "";
      let rows = 0;
      let sealed = 0;
      for (;;) {
        const page: SealableRow[] = await this.db(table)
          .where("id", ">", after)
          .orderBy("id")
          .limit(batch)
          .select("id", ...columns);
        if (page.length === 0) break;
        rows += page.length;
        after = page[page.length - 1].id;
        await this.cipher.ready(...page.flatMap((r) => columns.map((c) => r[c] ?? null)));
        const updates: { id: string; patch: Record<string, string> }[] = [];
        for (const r of page) {
          const patch: Record<string, string> = {};
          for (const column of columns) {
            const v = r[column] ?? null;
            if (v == null || !this.cipher.needsSealing(v)) continue;
            const place = { table, column, id: r.id };
            patch[column] = this.cipher.seal(this.cipher.open(v, place), place);
          }
          if (Object.keys(patch).length > 0) updates.push({ id: r.id, patch });
        }
        if (updates.length === 0) continue;
        await this.db.transaction(async (trx) => {
          // Compare-and-set on the old values: a row changed meanwhile is left for the next run.
          for (const u of updates) {
            const before = page.find((r) => r.id === u.id)!;
            await trx(table)
              .where("id", u.id)
              .where(Object.fromEntries(Object.keys(u.patch).map((c) => [c, before[c]])))
              .update(u.patch);
          }
          await insertAuditEvent(
            trx,
            audit(
              table,
              updates.map((u) => u.id),
            ),
          );
        });
        sealed += updates.length;
      }
      out.push({ table, rows, sealed });
    }
    return out;
  }

  /** How many stored values are not sealed under the current key, per table (for `cardpki data status`). */
  async unsealedCounts(): Promise<Record<string, { rows: number; cleartext: number; olderKey: number }>> {
    const out: Record<string, { rows: number; cleartext: number; olderKey: number }> = {};
    for (const [table, columns] of Object.entries(PERSONAL_DATA_COLUMNS)) {
      const c = { rows: 0, cleartext: 0, olderKey: 0 };
      let after = "";
      for (;;) {
        const page: SealableRow[] = await this.db(table)
          .where("id", ">", after)
          .orderBy("id")
          .limit(1000)
          .select("id", ...columns);
        if (page.length === 0) break;
        after = page[page.length - 1].id;
        c.rows += page.length;
        for (const r of page) {
          const values = columns.map((col) => r[col] ?? null).filter((v): v is string => v != null);
          if (values.some((v) => !FieldCipher.isSealed(v))) c.cleartext++;
          else if (values.some((v) => this.cipher.needsSealing(v))) c.olderKey++;
        }
      }
      out[table] = c;
    }
    return out;
  }
}
