import type { Static } from "@sinclair/typebox";
import type { Frozen } from "../shared/schema-types.js";
import type {
  ATTRIBUTE_RULE_SCHEMA,
  EMAIL_RULE_SCHEMA,
  LOGON_NAME_RULE_SCHEMA,
  PROFILE_SCHEMA,
} from "./profile.schema.js";

export type AttributeRule = Frozen<Static<typeof ATTRIBUTE_RULE_SCHEMA>>;
export type Presence = AttributeRule["presence"];
export type EmailRule = Frozen<Static<typeof EMAIL_RULE_SCHEMA>>;
export type LogonNameRule = Frozen<Static<typeof LOGON_NAME_RULE_SCHEMA>>;

type ProfileFile = Static<typeof PROFILE_SCHEMA>;
/** What the loader fills in where the file leaves it out (src/policy/profile-loader.ts). */
type Defaulted =
  "csr" | "subjectAltName" | "extendedKeyUsage" | "authorityInfoAccess" | "crlDistributionPoint" | "ocspNoCheck";

/** A certificate profile, loaded from `policies/profiles/*.yaml` and frozen: the file with its defaults filled in. */
export type CertificateProfile = Frozen<
  Omit<ProfileFile, Defaulted | "validity" | "subject"> &
    Required<Pick<ProfileFile, Defaulted>> & {
      validity: Required<ProfileFile["validity"]>;
      // Looked up by attribute name (the schema allows only the eight of SUBJECT_ATTRIBUTE_ORDER).
      subject: Record<string, AttributeRule>;
    }
>;
