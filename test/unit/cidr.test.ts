import { expect } from "chai";
import { addressIn, parseCidr, parseCidrs } from "../../src/shared/cidr.js";
import { CaError } from "../../src/shared/ca-error.js";

describe("shared/cidr (REQ-23 allow-lists, strict)", () => {
  const good: [string, string, number][] = [
    ["10.0.0.0/8", "ipv4", 8],
    ["10.0.0.1/32", "ipv4", 32],
    ["0.0.0.0/0", "ipv4", 0],
    ["192.168.4.0/22", "ipv4", 22],
    ["2001:db8::/32", "ipv6", 32],
    ["::1/128", "ipv6", 128],
    ["::/0", "ipv6", 0],
    ["fe80::/10", "ipv6", 10],
    ["::ffff:10.0.0.0/104", "ipv6", 104],
  ];
  for (const [c, family, prefix] of good)
    it(`ok/${c} is a ${family} network /${prefix}`, () =>
      expect(parseCidr(c)).to.deep.equal({ family, address: c.split("/")[0], prefix }));

  const refused: [string, RegExp][] = [
    ["10.0.0.1/", /prefix length is missing/],
    ["10.0.0.0", /address\/prefix expected/],
    ["10.0.0.0/8/8", /address\/prefix expected/],
    ["10.0.0.0/33", /above 32/],
    ["2001:db8::/129", /above 128/],
    ["10.0.0.0/-1", /not a decimal/],
    ["10.0.0.0/+8", /not a decimal/],
    ["10.0.0.0/08", /not a decimal/],
    ["10.0.0.0/8.0", /not a decimal/],
    ["10.0.0.0/ 8", /malformed/],
    ["10.0.0.0/0x8", /not a decimal/],
    ["10.0.0.1/8", /host bits set/],
    ["2001:db8::1/32", /host bits set/],
    ["/8", /no IPv4 or IPv6 address/],
    ["10.0.0/8", /no IPv4 or IPv6 address/],
    ["010.0.0.0/8", /no IPv4 or IPv6 address/],
    ["fe80::1%eth0/128", /no IPv4 or IPv6 address/],
    ["not-a-net", /address\/prefix expected/],
    ["", /address\/prefix expected/],
  ];
  for (const [c, why] of refused)
    it(`fail/'${c}' is refused (${why.source})`, () => {
      let err: unknown;
      try {
        parseCidr(c);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(CaError);
      expect((err as CaError).kind).to.equal("invalid-input");
      expect((err as CaError).message)
        .to.match(why)
        .and.to.match(/REQ-23/);
    });

  it("ok/membership: IPv4, IPv4-mapped IPv6 sockets, IPv6; fail/outside, garbage", () => {
    const list = parseCidrs(["10.0.0.0/8", "2001:db8::/32"]);
    expect(addressIn(list, "10.1.2.3")).to.equal(true);
    expect(addressIn(list, "::ffff:10.1.2.3")).to.equal(true);
    expect(addressIn(list, "2001:db8::42")).to.equal(true);
    expect(addressIn(list, "11.0.0.1")).to.equal(false);
    expect(addressIn(list, "2001:db9::1")).to.equal(false);
    expect(addressIn(list, "nonsense")).to.equal(false);
    expect(addressIn(list, undefined)).to.equal(false);
  });

  it("fail/one bad entry refuses the whole list (nothing half-applied)", () => {
    expect(() => parseCidrs(["10.0.0.0/8", "10.0.0.1/"])).to.throw(CaError, /10\.0\.0\.1\//);
  });
});
