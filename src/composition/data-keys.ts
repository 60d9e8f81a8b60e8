import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import { parsePkcs11Uri } from "../hsm/pkcs11-uri.js";
import type { Pkcs11AesKey } from "../hsm/pkcs11-keystore.js";
import { FieldCipher, type DataKey } from "../store/field-cipher.js";
import { KnexDataKeyStore, type WrappedDataKey } from "../store/data-key.store.js";
import { KnexPersonalDataStore, type SealReport } from "../store/personal-data.store.js";
import { isUniqueViolation } from "../store/database.js";
import type { StationParts } from "./card-station-role.js";

/**
 * REQ-29, personal data at rest: envelope encryption.
 * - The wrapping key (KEK) is an AES-256 key inside the HSM, sensitive and never extractable, made
 *   by a `data-key` ceremony (policies/ceremonies/demo-data-key.yaml) like every long-lived HSM key
 *   (REQ-26): custodians, witness, signed transcript, its URI in ca-store/<ca>/data-keys/<label>/.
 * - The data keys (DEKs) are 32 random bytes made by the service on first start (and by
 *   `cardpki data rotate-key`), wrapped by the HSM (CKM_AES_GCM, the key id as associated data) and
 *   stored wrapped in the database's data_keys table (so a backup carries them and only the HSM
 *   opens them), each with an audit event.
 * - On open the HSM unwraps each DEK once; fields are then sealed in process (FieldCipher).
 */

/** Data-key wrapping keys in the CA store: `<ca>/<label>` with their URIs. */
export function dataKeyNames(caStoreDir: string): { name: string; uri: string }[] {
  if (!existsSync(caStoreDir)) return [];
  return readdirSync(caStoreDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((ca) => {
      const dir = join(caStoreDir, ca.name, "data-keys");
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .filter((l) => existsSync(join(dir, l, "key.uri")))
        .map((l) => ({ name: `${ca.name}/${l}`, uri: readFileSync(join(dir, l, "key.uri"), "utf8").trim() }));
    });
}

/** The URI of the wrapping key new data keys go under: configured, or the one in the CA store. */
export function wrappingKeyUri(rt: StationParts): string {
  if (rt.config.dataEncryption.wrappingKey) return rt.config.dataEncryption.wrappingKey;
  const found = dataKeyNames(rt.config.caStoreDir);
  if (found.length === 1) return found[0]!.uri;
  if (found.length === 0)
    throw new CaError(
      "config",
      `no data-key wrapping key (REQ-29): run a data-key ceremony (e.g. ` +
        `policies/ceremonies/demo-data-key.yaml) or set dataEncryption.wrappingKey / ` +
        `CARDPKI_DATA_WRAPPING_KEY`,
    );
  throw new CaError(
    "config",
    `several data-key wrapping keys in ${rt.config.caStoreDir} ` +
      `(${found.map((f) => f.name).join(", ")}): name one in ` +
      `dataEncryption.wrappingKey / CARDPKI_DATA_WRAPPING_KEY`,
  );
}

async function hsmKey(rt: StationParts, uri: string): Promise<Pkcs11AesKey> {
  const u = parsePkcs11Uri(uri);
  return (await rt.keystore(u.token)).aesKeyFor(u);
}

const wrapAad = (id: string) => Buffer.from(`cardpki-data-key|v1|${id}`, "utf8");

/** Unwraps one stored data key in the HSM; a wrong or missing HSM key is refused clearly. */
async function unwrap(rt: StationParts, k: WrappedDataKey): Promise<DataKey> {
  if (k.algorithm !== "AES-256-GCM")
    throw new CaError("config", `data key ${k.id} is wrapped with unknown algorithm ${k.algorithm}`);
  const raw = Buffer.from(k.wrapped, "base64url");
  let key: Uint8Array;
  try {
    key = await (await hsmKey(rt, k.wrappingKey)).decrypt(raw.subarray(0, 12), wrapAad(k.id), raw.subarray(12));
  } catch (e) {
    const ce = e instanceof CaError ? e : new CaError("hsm-unavailable", (e as Error).message);
    throw new CaError(
      ce.kind,
      `data key ${k.id} (REQ-29) cannot be unwrapped with ${k.wrappingKey}: ${ce.message}`,
      { dataKey: k.id },
      { cause: e },
    );
  }
  if (key.length !== 32) throw new CaError("config", `data key ${k.id} unwrapped to ${key.length} bytes, not 32`);
  return { id: k.id, key };
}

/**
 * Makes a new data key: 32 random bytes, wrapped in the HSM, stored with its audit event. Ids are dk1, dk2...: two
 * processes racing make one.
 */
async function createDataKey(
  rt: StationParts,
  store: KnexDataKeyStore,
  existing: readonly WrappedDataKey[],
  actor: string,
  reason: string,
): Promise<WrappedDataKey> {
  const uri = wrappingKeyUri(rt);
  const n = existing.reduce((m, k) => Math.max(m, Number(/^dk(\d+)$/.exec(k.id)?.[1] ?? 0)), 0) + 1;
  const id = `dk${n}`;
  const dek = rt.random.bytes(32);
  const iv = rt.random.bytes(12);
  const sealed = await (await hsmKey(rt, uri)).encrypt(iv, wrapAad(id), dek);
  const wrapped: WrappedDataKey = {
    id,
    wrapped: Buffer.concat([iv, sealed]).toString("base64url"),
    algorithm: "AES-256-GCM",
    wrappingKey: uri,
    createdAt: rt.clock.now(),
  };
  try {
    await store.add(wrapped, {
      id: newId(rt.random),
      at: rt.clock.now(),
      actor,
      action: "data-key.create",
      objectType: "data-key",
      objectId: id,
      outcome: "success",
      details: { wrappingKey: uri, algorithm: "AES-256-GCM", reason },
    });
  } catch (e) {
    if (isUniqueViolation(e))
      throw new CaError("conflict", `data key ${id} was made by another process at the same time; try again`);
    throw e;
  }
  return wrapped;
}

async function loadCipher(rt: StationParts): Promise<FieldCipher> {
  const store = new KnexDataKeyStore(rt.db);
  let wrapped = await store.list();
  if (wrapped.length === 0) {
    // First start with a wrapping key: the first data key is made here (audited, data-key.create).
    try {
      await createDataKey(rt, store, wrapped, "system:data-keys", "first data key of this database");
    } catch (e) {
      if (!CaError.is(e, "conflict")) throw e; // another process made dk1 at the same moment: use it
    }
    wrapped = await store.list();
  }
  const keys = await Promise.all(wrapped.map((k) => unwrap(rt, k)));
  const loadMissing = async (ids: readonly string[]) => {
    const rows = (await store.list()).filter((k) => ids.includes(k.id));
    return Promise.all(rows.map((k) => unwrap(rt, k)));
  };
  return new FieldCipher(keys, wrapped[wrapped.length - 1]!.id, rt.random, loadMissing);
}

const ciphers = new WeakMap<StationParts, Promise<FieldCipher>>();

/**
 * The process's field cipher: the data keys unwrapped by the HSM once per process (the HSM is
 * never asked per field). Refuses with a config or hsm-unavailable error when the wrapping key is
 * missing or is not the one the stored data keys were wrapped with.
 */
export function fieldCipher(rt: StationParts): Promise<FieldCipher> {
  let c = ciphers.get(rt);
  if (!c) {
    c = loadCipher(rt);
    ciphers.set(rt, c);
    c.catch(() => ciphers.delete(rt));
  }
  return c;
}

/**
 * `cardpki data rotate-key`: a new data key becomes the current one (restart running services so they write under it).
 */
export async function rotateDataKey(rt: StationParts, actor: string): Promise<{ id: string; wrappingKey: string }> {
  await fieldCipher(rt); // the existing keys must open before another is added
  const store = new KnexDataKeyStore(rt.db);
  const k = await createDataKey(rt, store, await store.list(), actor, "rotation");
  ciphers.delete(rt);
  return { id: k.id, wrappingKey: k.wrappingKey };
}

/** `cardpki data encrypt-existing`: seals cleartext rows and values under older data keys, audited per batch. */
export async function sealExistingPersonalData(rt: StationParts, actor: string): Promise<SealReport[]> {
  const cipher = await fieldCipher(rt);
  return new KnexPersonalDataStore(rt.db, cipher).sealExisting((table, ids) => ({
    id: newId(rt.random),
    at: rt.clock.now(),
    actor,
    action: "data.encrypt-existing",
    objectType: "table",
    objectId: table,
    outcome: "success",
    details: { rows: ids.length, dataKey: cipher.currentKeyId },
  }));
}

/** `cardpki data status`: data keys and how many rows are still in clear or under an older key. */
export async function personalDataStatus(rt: StationParts): Promise<{
  currentKey: string;
  keys: { id: string; wrappingKey: string; createdAt: string }[];
  tables: Awaited<ReturnType<KnexPersonalDataStore["unsealedCounts"]>>;
}> {
  const cipher = await fieldCipher(rt);
  const keys = (await new KnexDataKeyStore(rt.db).list()).map((k) => ({
    id: k.id,
    wrappingKey: k.wrappingKey,
    createdAt: k.createdAt.toISOString(),
  }));
  return {
    currentKey: cipher.currentKeyId,
    keys,
    tables: await new KnexPersonalDataStore(rt.db, cipher).unsealedCounts(),
  };
}
