import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { logger } from "../shared/log.js";

const log = logger("config");
const TOKENDIR = /^[ \t]*directories\.tokendir[ \t]*=[ \t]*(.+?)[ \t]*$/m;

/**
 * The SoftHSM2 config the data folder was set up with (`<dataDir>/softhsm/softhsm2.conf`), or undefined.
 * SoftHSM2 takes its token directory as an absolute path, so a copied or moved data folder would go on
 * using the original's tokens: a config that names a token directory other than the folder's own is
 * pointed back at `<dataDir>/softhsm/tokens` (it is generated, never hand-written) and says so at start;
 * when the folder has no tokens of its own, the config stays as it is and says where it points.
 */
export function embeddedSoftHsmConfig(dataDir: string): string | undefined {
  const conf = join(dataDir, "softhsm", "softhsm2.conf");
  if (!existsSync(conf)) return undefined;
  const own = join(dataDir, "softhsm", "tokens");
  const text = readFileSync(conf, "utf8");
  const m = TOKENDIR.exec(text);
  if (!m || resolve(m[1]!) === resolve(own)) return conf;
  if (existsSync(own)) {
    writeFileSync(conf, text.replace(m[0], `directories.tokendir = ${own}`), { mode: 0o600 });
    log.warn(
      `${conf} named the token directory ${m[1]} outside this data folder; it now names the folder's own tokens`,
      { conf, was: m[1], now: own },
    );
  } else {
    log.warn(`${conf} names the token directory ${m[1]}, outside the data folder ${dataDir}`, { conf, tokendir: m[1] });
  }
  return conf;
}
