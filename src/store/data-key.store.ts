import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import { insertAuditEvent } from "./audit.store.js";
import type { DataKeyRow } from "./rows.js";

/** A data-encryption key as the database keeps it: wrapped by an HSM key, never in clear (REQ-29). */
export interface WrappedDataKey {
  readonly id: string;
  /** base64url(iv | ciphertext | tag) of the 32 key bytes, made by the HSM. */
  readonly wrapped: string;
  readonly algorithm: "AES-256-GCM";
  /** RFC 7512 URI (without PIN) of the HSM key that wraps it. */
  readonly wrappingKey: string;
  readonly createdAt: Date;
}

/** The data_keys table: wrapped data keys, oldest first; each addition with its audit event. */
export class KnexDataKeyStore {
  constructor(private readonly db: Knex) {}

  async list(): Promise<WrappedDataKey[]> {
    const rows = await this.db<DataKeyRow>("data_keys").orderBy([{ column: "created_at" }, { column: "id" }]);
    return rows.map((r) => ({
      id: r.id,
      wrapped: r.wrapped,
      algorithm: r.algorithm as WrappedDataKey["algorithm"],
      wrappingKey: r.wrapping_key,
      createdAt: new Date(Number(r.created_at)),
    }));
  }

  async add(k: WrappedDataKey, audit: AuditEvent): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx<DataKeyRow>("data_keys").insert({
        id: k.id,
        wrapped: k.wrapped,
        algorithm: k.algorithm,
        wrapping_key: k.wrappingKey,
        created_at: k.createdAt.getTime(),
      });
      await insertAuditEvent(trx, audit);
    });
  }
}
