import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../support/environment.js";

/**
 * The staff group file of `cardpki ra bootstrap-staff` is checked against its schema before the CA is opened
 * (REQ-02, REQ-10): a malformed file is refused naming the file and each bad field, exit 2, nothing made. The CLI
 * runs as a subprocess on an empty data folder.
 */
describe("cli/staff group file refused before the bootstrap", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "cardpki-staff-file-"));
    const pub = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
    writeFileSync(join(dir, "ann.pub"), pub.export({ type: "spki", format: "pem" }) as string);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const bootstrap = (staff: string) =>
    spawnSync(
      process.execPath,
      [
        CLI,
        ...["ra", "bootstrap-staff", "--org-number", "556000-0000", "--org-name", "service owner", "--country", "SE"],
        ...["--staff", staff, "--out", join(dir, "out"), "--operator", "carol", "--witness", "dave"],
      ],
      { env: { PATH: process.env.PATH, CARDPKI_DATA_DIR: join(dir, "data") }, encoding: "utf8", timeout: 30_000 },
    );
  const member = (fields: string) =>
    `{ id: ann, name: "Ann Staff", nationalId: "19660101000", roles: [ra-officer], publicKey: ann.pub${fields} }`;

  it("fail/an unknown key, a role outside the staff roles and a short national ID: exit 2 naming each field", () => {
    const file = join(dir, "staff.yaml");
    writeFileSync(
      file,
      "staff:\n" +
        `  - ${member(", badge: 7")}\n` +
        `  - ${member("").replace("[ra-officer]", "[superuser]")}\n` +
        `  - ${member("").replace('"19660101000"', '"123"')}\n`,
    );
    const r = bootstrap(file);
    expect(r.stderr.trim()).to.equal(
      `cardpki: staff file ${file}: /staff/0 must NOT have additional properties 'badge'; ` +
        `/staff/1/roles/0 must be equal to one of the allowed values; ` +
        `/staff/2/nationalId must match pattern "^[0-9A-Za-z-]{6,32}$"`,
    );
    expect([r.status, r.stdout, existsSync(join(dir, "out"))]).to.deep.equal([2, "", false]);
  });

  it("fail/a staff file that is not YAML, or without a staff list: exit 2 naming the file", () => {
    const broken = join(dir, "broken.yaml");
    writeFileSync(broken, "staff: [ { id: ann\n");
    const notYaml = bootstrap(broken);
    expect([notYaml.status, notYaml.stderr]).to.satisfy(
      ([c, e]: [number, string]) => c === 2 && e.startsWith(`cardpki: staff file ${broken}: `),
    );
    const empty = join(dir, "empty.yaml");
    writeFileSync(empty, "members: []\n");
    expect(bootstrap(empty).stderr.trim()).to.equal(
      `cardpki: staff file ${empty}: / must have required property 'staff'; / must NOT have additional properties ` +
        `'members'`,
    );
  });
});
