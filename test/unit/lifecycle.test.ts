import { expect } from "chai";
import { Lifecycle } from "../../src/composition/lifecycle.js";

describe("service lifecycle (ordered start, reverse stop)", () => {
  const recorder = () => {
    const log: string[] = [];
    const part = (name: string, failStart = false) => ({
      name,
      start: async () => {
        if (failStart) throw new Error(`${name} cannot start`);
        log.push(`start ${name}`);
      },
      stop: async () => void log.push(`stop ${name}`),
    });
    return { log, part };
  };

  it("ok/components stop in reverse start order, once", async () => {
    const { log, part } = recorder();
    const life = new Lifecycle();
    for (const n of ["lease", "records", "signer", "http"]) await life.start(part(n));
    await Promise.all([life.stop(), life.stop()]);
    await life.stop();
    expect(log).to.deep.equal([
      "start lease",
      "start records",
      "start signer",
      "start http",
      "stop http",
      "stop signer",
      "stop records",
      "stop lease",
    ]);
  });

  it(`fail/a component that fails to start is stopped, then those before it, and the error reaches the \
caller`, async () => {
    const { log, part } = recorder();
    const life = new Lifecycle();
    await life.start(part("lease"));
    life.own("records", () => void log.push("close records"));
    const err = await life.start(part("signer", true)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.equal("signer cannot start");
    expect(log).to.deep.equal(["start lease", "stop signer", "close records", "stop lease"]);
  });

  it("fail/a builder that throws stops what was started; a failing stop does not keep the rest running", async () => {
    const { log, part } = recorder();
    const life = new Lifecycle();
    await life.start(part("lease"));
    await life.start({ name: "broken", stop: async () => Promise.reject(new Error("stuck")) });
    const err = await life
      .add(() => Promise.reject(new Error("no token")))
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).to.equal("no token");
    expect(log).to.deep.equal(["start lease", "stop lease"]);
  });
});
