import { loadConfig } from "../../composition/config.js";
import { openOperatorKeys, withOperator } from "../../composition/operator-role.js";
import { personalDataStatus, rotateDataKey, sealExistingPersonalData } from "../../composition/data-keys.js";
import { OPERATOR_OPTION, operatorArg, type Command, type CommandGroup } from "../command.js";

const operator = { operator: OPERATOR_OPTION } as const;

/** REQ-29: seal personal data written before encryption at rest (or under an older data key). */
const encryptExisting: Command = {
  name: "encrypt-existing",
  summary:
    "Encrypt personal data still in clear (rows from before REQ-29) or under an " +
    "older data key; audited per batch. Safe to run again.",
  usage: "data encrypt-existing --operator NAME",
  options: operator,
  async run(v) {
    const r = await withOperator(openOperatorKeys(loadConfig()), (rt) =>
      sealExistingPersonalData(rt, `operator:${operatorArg(v)}`),
    );
    console.log(JSON.stringify(r, null, 2));
    return 0;
  },
};

const rotateKey: Command = {
  name: "rotate-key",
  summary:
    "Make a new data-encryption key (wrapped by the HSM) for new writes; restart " +
    "running services, then run 'data encrypt-existing'.",
  usage: "data rotate-key --operator NAME",
  options: operator,
  async run(v) {
    const r = await withOperator(openOperatorKeys(loadConfig()), (rt) =>
      rotateDataKey(rt, `operator:${operatorArg(v)}`),
    );
    console.log(JSON.stringify(r, null, 2));
    console.error(
      "new data key made; restart running services so they write under it, then run: cardpki data encrypt-existing",
    );
    return 0;
  },
};

const status: Command = {
  name: "status",
  summary: "The data keys (ids, wrapping HSM key) and how many rows hold personal data in clear or under an older key.",
  usage: "data status",
  options: {},
  async run() {
    const r = await withOperator(openOperatorKeys(loadConfig()), (rt) => personalDataStatus(rt));
    console.log(JSON.stringify(r, null, 2));
    return 0;
  },
};

export const dataCommands: CommandGroup = {
  name: "data",
  summary: "Personal data encrypted at rest (REQ-29): status, encrypt existing rows, rotate the data key.",
  commands: [status, encryptExisting, rotateKey],
};
