// Child process of scripts/bench (CRL suite): opens the runtime and times one full CRL, so that
// peak RSS is this CRL's alone. Prints JSON.
import { loadConfig } from "../src/composition/config.js";
import { openOperatorCa } from "../src/composition/operator-role.js";

const rt = await openOperatorCa(loadConfig());
try {
  const t0 = performance.now();
  const crl = await rt.crls.generateFull(rt.authority("demo-issuing"), "bench");
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      seconds: Number(seconds.toFixed(2)),
      entries: crl.entries,
      bytes: crl.der.length,
      number: crl.number.toString(),
    }),
  );
} finally {
  await rt.close();
}
