import { expect } from "chai";
import {
  RETURN_FORMAT,
  STATUS_FORMAT,
  ReturnCard,
  ReturnHeader,
  StatusCard,
  StatusHeader,
  jsonLines,
  parseJsonLines,
} from "../../src/ra/bureau/bureau-files.js";

/** The card bureau's JSON Lines files (CPS 4.4.1): each line checked against the one schema of its kind. */
describe("card bureau files (JSON Lines, one TypeBox schema per line kind)", () => {
  const at = "2026-12-02T10:00:00.000Z";

  it("ok/a certificate return file as the RA writes it reads back whole under its schemas", () => {
    const header: ReturnHeader = {
      type: "certificates",
      format: RETURN_FORMAT,
      batchId: "B20261202-abc",
      answerId: "A-B20261202-abc-1234",
      createdAt: at,
      cards: 1,
    };
    const card: ReturnCard = {
      type: "card",
      orderId: "o-1",
      cardSerial: "12345678",
      certSerial: "7f3a09",
      certificate: "MIIB",
    };
    expect(parseJsonLines(jsonLines([header, card]), ReturnHeader, ReturnCard)).to.deep.equal({
      header,
      lines: [{ line: 2, value: card }],
      problems: [],
    });
  });

  it("fail/a status line with an unknown status or an unknown key: the problem names the line, order and field", () => {
    const header: StatusHeader = {
      type: "status",
      format: STATUS_FORMAT,
      statusId: "S-1",
      batchId: "B-1",
      createdAt: at,
    };
    const f = parseJsonLines(
      jsonLines([
        header,
        { type: "card", orderId: "o-1", status: "lost" },
        { type: "card", orderId: "o-2", status: "shipped", courier: "x" },
      ]),
      StatusHeader,
      StatusCard,
    );
    expect(f.problems).to.deep.equal([
      { line: 2, orderId: "o-1", problem: "/status must be equal to one of the allowed values" },
      { line: 3, orderId: "o-2", problem: "/ must NOT have additional properties 'courier'" },
    ]);
  });
});
