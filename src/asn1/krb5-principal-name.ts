import { CaError } from "../shared/ca-error.js";
import { concat, derTlv } from "./der.js";
import { childrenOf, content, readTlv, type Tlv } from "./der-reader.js";

/**
 * KRB5PrincipalName (RFC 4556 3.2.2), the value of the otherName id-pkinit-san:
 *
 *   KRB5PrincipalName ::= SEQUENCE { realm [0] Realm, principalName [1] PrincipalName }
 *   PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString }
 *
 * Realm and KerberosString are GeneralString (RFC 4120 5.2.1), IA5 characters only. The text form is the one of
 * RFC 4120 / MIT `krb5_unparse_name` without escapes: `comp1/comp2@REALM`.
 */
const KRB5_NT_PRINCIPAL = 1; // RFC 4120 6.2
const KRB5_NT_SRV_INST = 2; // a service and its instance, e.g. krbtgt/REALM (RFC 4120 6.2, 7.3)
const GENERAL_STRING = 0x1b;

/** What a principal's text may hold: printable ASCII without the separators and escapes of the text form. */
const PART = /^[\x21-\x2e\x30-\x3f\x41-\x5b\x5d-\x7e]+$/;

export interface Krb5Principal {
  readonly components: readonly string[];
  readonly realm: string;
}

/** `krbtgt/EXAMPLE.ORG@EXAMPLE.ORG` into its components and realm; refuses escapes, empty parts and non-ASCII. */
export function parseKrb5Principal(text: string): Krb5Principal {
  const at = text.lastIndexOf("@");
  const realm = at < 0 ? "" : text.slice(at + 1);
  const components = at < 0 ? [] : text.slice(0, at).split("/");
  if (!PART.test(realm) || components.length === 0 || !components.every((c) => PART.test(c) && !c.includes("@")))
    throw new CaError("invalid-input", `'${text}' is not a Kerberos principal name/instance@REALM (RFC 4120 6.2)`, {
      field: "san.krb5Principal",
    });
  return { components, realm };
}

const ascii = new TextEncoder();

/** The DER of a KRB5PrincipalName; name type NT-SRV-INST for a service with an instance, else NT-PRINCIPAL. */
export function encodeKrb5PrincipalName(text: string): Uint8Array {
  const p = parseKrb5Principal(text);
  const nameType = p.components.length > 1 ? KRB5_NT_SRV_INST : KRB5_NT_PRINCIPAL;
  const gs = (s: string) => derTlv(GENERAL_STRING, ascii.encode(s));
  return derTlv(
    0x30,
    concat(
      derTlv(0xa0, gs(p.realm)),
      derTlv(
        0xa1,
        derTlv(
          0x30,
          concat(
            derTlv(0xa0, derTlv(0x02, Uint8Array.of(nameType))),
            derTlv(0xa1, derTlv(0x30, concat(...p.components.map(gs)))),
          ),
        ),
      ),
    ),
  );
}

/** Reads a KRB5PrincipalName back to its text form; throws on anything else. */
export function decodeKrb5PrincipalName(der: Uint8Array): string {
  const bad = (m: string) => new CaError("invalid-input", `KRB5PrincipalName: ${m}`);
  const top = readTlv(der, 0);
  if (top.tag !== 0x30 || top.end !== der.length) throw bad("not one SEQUENCE");
  const [realmTag, nameTag, ...rest] = childrenOf(der, top);
  if (!realmTag || realmTag.tag !== 0xa0 || !nameTag || nameTag.tag !== 0xa1 || rest.length > 0)
    throw bad("expected [0] realm, [1] principalName");
  const str = (t: Tlv) => {
    if (t.tag !== GENERAL_STRING) throw bad("expected a GeneralString");
    const s = Buffer.from(content(der, t)).toString("latin1");
    if (!PART.test(s)) throw bad(`'${s}' has characters a principal's text form cannot hold`);
    return s;
  };
  const realmKids = childrenOf(der, realmTag);
  if (realmKids.length !== 1) throw bad("realm");
  const realm = str(realmKids[0]!);
  const pnKids = childrenOf(der, nameTag);
  if (pnKids.length !== 1 || pnKids[0]!.tag !== 0x30) throw bad("principalName");
  const [typeTag, stringsTag, ...more] = childrenOf(der, pnKids[0]!);
  if (!typeTag || typeTag.tag !== 0xa0 || !stringsTag || stringsTag.tag !== 0xa1 || more.length > 0)
    throw bad("expected [0] name-type, [1] name-string");
  const typeInt = childrenOf(der, typeTag);
  if (typeInt.length !== 1 || typeInt[0]!.tag !== 0x02) throw bad("name-type");
  const seq = childrenOf(der, stringsTag);
  if (seq.length !== 1 || seq[0]!.tag !== 0x30) throw bad("name-string");
  const comps = childrenOf(der, seq[0]!).map(str);
  if (comps.length === 0) throw bad("no name components");
  return `${comps.join("/")}@${realm}`;
}
