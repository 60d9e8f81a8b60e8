import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Signers a ceremony made in the CA store (CPS 4.4.1): `<ca>/<kind>/<label>/` holding every file in `required`,
 * named `<ca>/<label>`; CAs in directory order, labels in directory order or sorted.
 */
export function caStoreSignerNames(
  caStoreDir: string,
  kind: string,
  required: readonly string[],
  sortLabels = false,
): string[] {
  if (!existsSync(caStoreDir)) return [];
  return readdirSync(caStoreDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((ca) => {
      const dir = join(caStoreDir, ca.name, kind);
      if (!existsSync(dir)) return [];
      const labels = readdirSync(dir).filter((l) => required.every((f) => existsSync(join(dir, l, f))));
      return (sortLabels ? labels.sort() : labels).map((l) => `${ca.name}/${l}`);
    });
}
