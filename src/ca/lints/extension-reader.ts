import { parseDer } from "../../asn1/parse.js";
import type { ExtensionView, TbsView } from "./tbs-view.js";

export function findExtensions(tbs: TbsView, oid: string): ExtensionView[] {
  return tbs.extensions.filter((e) => e.oid === oid);
}

// Decoding is a pure function of the bytes: profile-constant extensions (KU, EKU, policies,
// AIA, CDP...) repeat in every certificate, so each distinct value is decoded once.
const cache = new Map<string, unknown>();

/** Parses the single extension with this OID, or undefined when absent. */
export function readExtension<T>(
  tbs: TbsView,
  oid: string,
  type: new () => T,
): { ext: ExtensionView; value: T } | undefined {
  const ext = findExtensions(tbs, oid)[0];
  if (!ext) return undefined;
  const key = `${type.name}:${Buffer.from(ext.value).toString("base64")}`;
  let value = cache.get(key) as T | undefined;
  if (value === undefined) {
    value = parseDer(ext.value, type, `extension ${oid}`);
    if (cache.size > 4096) cache.clear();
    cache.set(key, value);
  }
  return { ext, value };
}
