// A process that signs on a PKCS#11 token from the thread pool, closes the keystore, lets the garbage
// collector take what it can, and ends: its exit code shows whether the library's thread-exit handlers
// still had code to run (a library unloaded under them kills the process with SIGSEGV).
// Prints whether the library is still mapped. Usage: node --expose-gc pkcs11-exit.js <library> <token label> <pin>
import { readFileSync, realpathSync } from "node:fs";
import { staticPin } from "../../src/hsm/pin-source.js";
import { Pkcs11Keystore } from "../../src/hsm/pkcs11-keystore.js";

const [library, tokenLabel, pin] = process.argv.slice(2) as [string, string, string];
/** Everything that holds the library is local here: after it returns, only the garbage collector keeps it. */
async function signAndClose(): Promise<void> {
  const ks = new Pkcs11Keystore({ library, tokenLabel, pin: staticPin(pin), sessions: 4 });
  await ks.open();
  const label = `exit-${process.pid}`;
  await ks.generateKeyPair(label, "RSA-2048");
  const signer = await ks.signer({ label });
  for (let round = 0; round < 8; round++)
    await Promise.all(Array.from({ length: 8 }, (_, i) => signer.sign(new Uint8Array([round, i]))));
  ks.close();
}

await signAndClose();
for (let i = 0; i < 5; i++) {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 20));
}
// Whether the library is still mapped (Linux: /proc/self/maps names each mapped file by its real path).
const mapped = readFileSync("/proc/self/maps", "utf8").includes(realpathSync(library));
process.stdout.write(`CLOSED ${mapped ? "loaded" : "unloaded"}\n`);
