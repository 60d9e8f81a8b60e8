// A CA process that issues as fast as it can until killed (crash test). Prints "ISSUED <serial>"
// only after the certificate is stored, as a client would receive it.
import { loadConfig } from "../../src/composition/config.js";
import { openOperatorCa } from "../../src/composition/operator-role.js";
import { testKey } from "./keys.js";
import { ORG_SUBJECT } from "./test-ca.js";

const rt = await openOperatorCa(loadConfig(), { recover: true });
const ca = rt.authority("demo-issuing");
const keys = Array.from({ length: 8 }, () => testKey("P-256").spki);
process.stdout.write("READY\n");
async function worker(i: number): Promise<never> {
  for (;;) {
    const out = await rt.issuer.issue(ca, {
      profileId: "loa3-smartcard-auth",
      publicKey: keys[i]!,
      subject: ORG_SUBJECT,
      requestedBy: "crash-test",
      allowedKinds: ["end-entity"],
    });
    process.stdout.write(`ISSUED ${out.serial}\n`);
  }
}
await Promise.all(keys.map((_, i) => worker(i)));
