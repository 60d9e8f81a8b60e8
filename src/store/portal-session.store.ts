import type { Knex } from "knex";
import type { PortalSessionRow as PortalSessionTableRow } from "./rows.js";

/** A stored portal session (the http module's SessionStore shape): hashes only. */
export interface PortalSessionRow {
  readonly csrfHash: string;
  readonly credential: string;
  readonly created: number;
  readonly lastSeen: number;
  /** Who signed in: an officer (the portal) or a card holder (the holder pages). */
  readonly kind: "officer" | "holder";
}

/** Portal sessions in the database, shared by the writer and its standby (REQ-33). */
export class KnexPortalSessionStore {
  constructor(private readonly db: Knex) {}

  async put(idHash: string, s: PortalSessionRow): Promise<void> {
    await this.db<PortalSessionTableRow>("portal_sessions").insert({
      id_hash: idHash,
      csrf_hash: s.csrfHash,
      credential: s.credential,
      created_at: s.created,
      last_seen: s.lastSeen,
      kind: s.kind,
    });
  }

  async get(idHash: string): Promise<PortalSessionRow | undefined> {
    const r = await this.db<PortalSessionTableRow>("portal_sessions").where({ id_hash: idHash }).first();
    return r
      ? {
          csrfHash: r.csrf_hash,
          credential: r.credential,
          created: Number(r.created_at),
          lastSeen: Number(r.last_seen),
          kind: r.kind === "holder" ? "holder" : "officer",
        }
      : undefined;
  }

  async touch(idHash: string, lastSeen: number): Promise<void> {
    await this.db<PortalSessionTableRow>("portal_sessions")
      .where({ id_hash: idHash })
      .andWhere("last_seen", "<", lastSeen)
      .update({ last_seen: lastSeen });
  }

  async delete(idHash: string): Promise<void> {
    await this.db<PortalSessionTableRow>("portal_sessions").where({ id_hash: idHash }).delete();
  }

  async deleteExpired(idleBefore: number, createdBefore: number): Promise<void> {
    await this.db<PortalSessionTableRow>("portal_sessions")
      .where("last_seen", "<", idleBefore)
      .orWhere("created_at", "<", createdBefore)
      .delete();
  }
}
