import { CaError } from "../../shared/ca-error.js";
import { loadConfig } from "../../composition/config.js";
import { openOperatorRecords, withOperator } from "../../composition/operator-role.js";
import { createBackup, restoreBackup } from "../../composition/backup.js";
import { recordedBy, requireString, type Command } from "../command.js";

/** REQ-30: an encrypted, consistent online backup of the database. */
export const backupCmd: Command = {
  name: "backup",
  summary:
    "Encrypted, consistent online backup of the database (SQLite VACUUM INTO / " +
    "PostgreSQL pg_dump), under the backup key.",
  usage: "backup --out FILE [--operator NAME]",
  options: {
    out: { type: "string", description: "the backup file (refuses to overwrite)" },
    operator: { type: "string", description: "who runs it (recorded; default: the OS user)" },
  },
  async run(v) {
    const out = requireString(v, "out");
    const h = await withOperator(openOperatorRecords(loadConfig()), (rt) => createBackup(rt, out, recordedBy(v)));
    console.log(JSON.stringify({ file: out, ...h }));
    return 0;
  },
};

/**
 * REQ-30: restore a backup (stop the service first); signing stays refused until `audit reconcile` when the restore
 * went back in time.
 */
export const restoreCmd: Command = {
  name: "restore",
  summary:
    "Restore an encrypted backup over the configured database (stop the service " +
    "first); then check and run 'cardpki audit reconcile'.",
  usage: "restore --from FILE --yes",
  options: {
    from: { type: "string", description: "the backup file" },
    yes: { type: "boolean", description: "confirm: the current database is replaced" },
  },
  async run(v) {
    const from = requireString(v, "from");
    if (!v.yes)
      throw new CaError(
        "invalid-input",
        "restore replaces the current database: add --yes (and stop the service first)",
      );
    const h = await restoreBackup(loadConfig(), from);
    console.log(JSON.stringify({ restored: from, ...h }));
    console.error("restored; if the service signs nothing now, compare the gap and run: cardpki audit reconcile");
    return 0;
  },
};
