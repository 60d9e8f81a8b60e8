// The card maker's side of PIV attestation (YubiKey format), for the PIV emulator and for tests:
// a test "card maker" root CA, a per-card attestation key in slot f9 with its certificate from that
// root (made at "manufacture"), and the attestation certificate a card signs with its f9 key for a
// key it generated in a slot (INS F9, yubico-piv-tool `-a attest`).
//
// Format (Yubico, "PIV attestation" and the 1.3.6.1.4.1.41482.3 OID arc; yubico-piv-tool ykpiv_attest):
//   serial: 16 random bytes; issuer: the f9 certificate's subject; validity: copied from the f9
//   certificate; subject: CN "YubiKey PIV Attestation <slot>"; public key: the slot's key;
//   signature: ECDSA-SHA256 (EC f9 key) or SHA256-PKCS#1 v1.5 (RSA f9 key); extensions (not critical):
//     1.3.6.1.4.1.41482.3.3  firmware version, three raw octets (5.2.7 -> 05 02 07)
//     1.3.6.1.4.1.41482.3.7  card serial, a DER INTEGER
//     1.3.6.1.4.1.41482.3.8  PIN policy, touch policy: two raw octets (PIN 1 never 2 once 3 always; touch 1 never 2
//     always 3 cached)
//     1.3.6.1.4.1.41482.3.9  form factor, one raw octet (1 = USB-A keychain)
//
// The test root lives in a git-ignored folder (scripts/lib/virtual-card.sh: data/virtual-card/maker/)
// and is trusted only where a test or the virtual-card demo installs it as an attestation root.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { concat, derTlv, toPem, unsignedIntegerContent } from "../../src/asn1/der.js";
import { encodeOid, encodeTime } from "../../src/asn1/der-reader.js";

export const YUBICO_OID = {
  firmware: "1.3.6.1.4.1.41482.3.3",
  serial: "1.3.6.1.4.1.41482.3.7",
  policy: "1.3.6.1.4.1.41482.3.8",
  formFactor: "1.3.6.1.4.1.41482.3.9",
} as const;

/** Yubico's PIN / touch policy octets. */
export const PIN_POLICY = { never: 1, once: 2, always: 3 } as const;
export const TOUCH_POLICY = { never: 1, always: 2, cached: 3 } as const;
export type PinPolicyName = keyof typeof PIN_POLICY;

/** The subject marker of every test maker root: never a production trust anchor. */
export const TEST_MAKER_ORGANISATION = "cardpki virtual card maker (TEST ONLY, never trust in production)";

/** A certificate with the private key that signs under it. */
export interface Signer {
  readonly key: KeyObject;
  readonly certDer: Uint8Array;
}

interface CertInput {
  readonly serial: Uint8Array;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  readonly extensions: readonly Uint8Array[];
}

const utf8 = new TextEncoder();

/** Name DER from [OID, value] pairs, one attribute per RDN (UTF8String; PrintableString for serialNumber). */
export function encodeSimpleName(attrs: readonly (readonly [string, string])[]): Uint8Array {
  return derTlv(
    0x30,
    concat(
      ...attrs.map(([oid, v]) =>
        derTlv(0x31, derTlv(0x30, concat(encodeOid(oid), derTlv(oid === "2.5.4.5" ? 0x13 : 0x0c, utf8.encode(v))))),
      ),
    ),
  );
}

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }. */
function extension(oid: string, value: Uint8Array, critical = false): Uint8Array {
  return derTlv(
    0x30,
    concat(encodeOid(oid), critical ? Uint8Array.of(0x01, 0x01, 0xff) : new Uint8Array(0), derTlv(0x04, value)),
  );
}

function algorithmOf(key: KeyObject): { der: Uint8Array; hash: "sha256" } {
  // ecdsa-with-SHA256 (RFC 5758)
  if (key.asymmetricKeyType === "ec") return { der: derTlv(0x30, encodeOid("1.2.840.10045.4.3.2")), hash: "sha256" };
  if (key.asymmetricKeyType === "rsa")
    return { der: derTlv(0x30, concat(encodeOid("1.2.840.113549.1.1.11"), Uint8Array.of(0x05, 0x00))), hash: "sha256" };
  throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
}

/** RFC 5280 4.1: a v3 certificate signed by `signingKey`. */
function certificate(c: CertInput, signingKey: KeyObject): Uint8Array {
  const alg = algorithmOf(signingKey);
  const tbs = derTlv(
    0x30,
    concat(
      derTlv(0xa0, Uint8Array.of(0x02, 0x01, 0x02)),
      derTlv(0x02, unsignedIntegerContent(c.serial)),
      alg.der,
      c.issuer,
      derTlv(0x30, concat(encodeTime(c.notBefore), encodeTime(c.notAfter))),
      c.subject,
      c.spki,
      ...(c.extensions.length ? [derTlv(0xa3, derTlv(0x30, concat(...c.extensions)))] : []),
    ),
  );
  const sig = sign(alg.hash, tbs, signingKey);
  return derTlv(0x30, concat(tbs, alg.der, derTlv(0x03, concat(Uint8Array.of(0), sig))));
}

/** A positive 16-byte serial (Yubico: "a random 16 byte integer"). */
function serial16(): Uint8Array {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

const spkiOf = (k: KeyObject): Uint8Array => new Uint8Array(createPublicKey(k).export({ type: "spki", format: "der" }));
const CA_EXTENSIONS = (pathLen?: number): Uint8Array[] => [
  extension(
    "2.5.29.19",
    derTlv(
      0x30,
      concat(
        Uint8Array.of(0x01, 0x01, 0xff),
        pathLen === undefined ? new Uint8Array(0) : Uint8Array.of(0x02, 0x01, pathLen),
      ),
    ),
    true,
  ), // basicConstraints CA
  extension("2.5.29.15", Uint8Array.of(0x03, 0x02, 0x01, 0x06), true), // keyUsage keyCertSign, cRLSign
];

/** Parts of a certificate this module needs back (subject, validity) without a parser library. */
function certParts(der: Uint8Array): { subject: Uint8Array; notBefore: Uint8Array; notAfter: Uint8Array } {
  const read = (buf: Uint8Array, off: number) => {
    let len = buf[off + 1]!,
      p = off + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
      p += n;
    }
    return { start: off, content: p, end: p + len };
  };
  const cert = read(der, 0);
  const tbs = read(der, cert.content);
  let p = tbs.content;
  const items: { start: number; content: number; end: number }[] = [];
  while (p < tbs.end) {
    const t = read(der, p);
    items.push(t);
    p = t.end;
  }
  // [0] version, serial, signature, issuer, validity, subject, ...
  const validity = items[4]!;
  const nb = read(der, validity.content);
  const na = read(der, nb.end);
  return {
    subject: der.subarray(items[5]!.start, items[5]!.end),
    notBefore: der.subarray(nb.start, nb.end),
    notAfter: der.subarray(na.start, na.end),
  };
}

/** A self-signed test card-maker root (P-256). */
export function createMakerRoot(now = new Date(), name = "cardpki virtual card maker PIV attestation root"): Signer {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const subject = encodeSimpleName([
    ["2.5.4.10", TEST_MAKER_ORGANISATION],
    ["2.5.4.3", name],
  ]);
  const certDer = certificate(
    {
      // Valid from well before any test clock (tests run on fixed dates) to 20 years ahead, like a maker's long-lived
      // root.
      serial: serial16(),
      issuer: subject,
      subject,
      notBefore: new Date("2020-01-01T00:00:00Z"),
      notAfter: new Date(now.getTime() + 20 * 365 * 86_400_000),
      spki: spkiOf(privateKey),
      extensions: CA_EXTENSIONS(1),
    },
    privateKey,
  );
  return { key: privateKey, certDer };
}

export const MAKER_KEY_FILE = "maker-root.key";
export const MAKER_CERT_FILE = "maker-root.pem";

/** The test maker root in `dir` (made there on first use: key 0600, certificate PEM). */
export function loadOrCreateMakerRoot(dir: string): Signer {
  const keyFile = join(dir, MAKER_KEY_FILE),
    certFile = join(dir, MAKER_CERT_FILE);
  if (existsSync(keyFile) && existsSync(certFile)) {
    const pem = readFileSync(certFile, "utf8");
    const b64 = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1];
    if (!b64) throw new Error(`${certFile}: no certificate`);
    return {
      key: createPrivateKey(readFileSync(keyFile)),
      certDer: new Uint8Array(Buffer.from(b64.replace(/\s+/g, ""), "base64")),
    };
  }
  mkdirSync(dir, { recursive: true });
  const root = createMakerRoot();
  // Written under temporary names, then renamed: a reader never sees half a root.
  writeFileSync(`${keyFile}.tmp`, root.key.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600 });
  chmodSync(`${keyFile}.tmp`, 0o600);
  writeFileSync(`${certFile}.tmp`, toPem("CERTIFICATE", root.certDer));
  renameSync(`${keyFile}.tmp`, keyFile);
  renameSync(`${certFile}.tmp`, certFile);
  return root;
}

/** "Manufacture": the card's own attestation key (slot f9, P-256) and its certificate from the maker root. */
export function manufactureAttestationKey(maker: Signer, cardSerial: number): Signer {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const root = certParts(maker.certDer);
  const subject = encodeSimpleName([
    ["2.5.4.3", "cardpki virtual card PIV Attestation"],
    ["2.5.4.5", String(cardSerial)],
  ]);
  const certDer = certificate(
    {
      serial: serial16(),
      issuer: root.subject,
      subject,
      notBefore: decodeTimeTlv(root.notBefore),
      notAfter: decodeTimeTlv(root.notAfter),
      spki: spkiOf(privateKey),
      extensions: CA_EXTENSIONS(0),
    },
    maker.key,
  );
  return { key: privateKey, certDer };
}

function uint32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function decodeTimeTlv(t: Uint8Array): Date {
  const s = Buffer.from(t.subarray(2)).toString("latin1");
  const m =
    t[0] === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new Error(`bad time ${s}`);
  let y = Number(m[1]);
  if (t[0] === 0x17) y += y >= 50 ? 1900 : 2000;
  return new Date(Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export interface AttestationFacts {
  /** PIV slot byte (0x9a...). */
  readonly slot: number;
  /** The attested key's SubjectPublicKeyInfo (DER). */
  readonly spki: Uint8Array;
  readonly cardSerial: number;
  readonly firmware: readonly [number, number, number];
  readonly pinPolicy: number;
  readonly touchPolicy: number;
  readonly formFactor?: number;
}

/** The attestation certificate for a slot key, signed by the card's f9 key (what INS F9 returns). */
export function attestationCertificate(f9: Signer, facts: AttestationFacts): Uint8Array {
  const issuer = certParts(f9.certDer);
  const slot = facts.slot.toString(16).padStart(2, "0");
  return certificate(
    {
      serial: serial16(),
      issuer: issuer.subject,
      subject: encodeSimpleName([["2.5.4.3", `YubiKey PIV Attestation ${slot}`]]),
      notBefore: decodeTimeTlv(issuer.notBefore),
      notAfter: decodeTimeTlv(issuer.notAfter),
      spki: facts.spki,
      extensions: [
        extension(YUBICO_OID.firmware, Uint8Array.from(facts.firmware)),
        extension(YUBICO_OID.serial, derTlv(0x02, unsignedIntegerContent(uint32(facts.cardSerial)))),
        extension(YUBICO_OID.policy, Uint8Array.of(facts.pinPolicy, facts.touchPolicy)),
        ...(facts.formFactor === undefined ? [] : [extension(YUBICO_OID.formFactor, Uint8Array.of(facts.formFactor))]),
      ],
    },
    f9.key,
  );
}

/**
 * A software "card" for service-level tests: a key as if generated in a slot, with the attestation a card of `maker`
 * would give.
 */
export interface SoftwareAttestation {
  readonly privateKey: KeyObject;
  readonly spki: Uint8Array;
  readonly cardSerial: string;
  /** DER: the slot's attestation certificate and the card's f9 certificate. */
  readonly certificate: Uint8Array;
  readonly intermediate: Uint8Array;
}

export function softwareAttestation(
  maker: Signer,
  o: { cardSerial: number; slot?: number; pinPolicy?: PinPolicyName; f9?: Signer; privateKey?: KeyObject },
): SoftwareAttestation {
  const f9 = o.f9 ?? manufactureAttestationKey(maker, o.cardSerial);
  const privateKey = o.privateKey ?? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const spki = spkiOf(privateKey);
  const certificate = attestationCertificate(f9, {
    slot: o.slot ?? 0x9a,
    spki,
    cardSerial: o.cardSerial,
    firmware: [5, 2, 7],
    pinPolicy: PIN_POLICY[o.pinPolicy ?? "once"],
    touchPolicy: TOUCH_POLICY.never,
    formFactor: 1,
  });
  return { privateKey, spki, cardSerial: String(o.cardSerial), certificate, intermediate: f9.certDer };
}
