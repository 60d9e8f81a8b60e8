/**
 * The one error type of cardpki. Kinds are a closed set; `http/` maps them to
 * RFC 7807 problem responses, `cli/` to a message and a non-zero exit.
 */
export const ERROR_KINDS = [
  "invalid-input", // malformed request, bad CSR, unknown field
  "not-found", // unknown serial, CA, profile
  "conflict", // duplicate label, concurrent update, existing output file
  "policy-violation", // request valid but the profile/policy forbids it
  "lint-failed", // TBS failed a lint: nothing was signed
  "unauthorized", // no or bad credentials
  "forbidden", // authenticated but not allowed
  "rate-limited", // too many requests of a kind in a policy window (REQ-18)
  "config", // configuration or policy file is wrong
  "hsm-unavailable", // PKCS#11 library/token/key not usable
  "unavailable", // a dependency (DB, HSM) is temporarily down
  "internal", // a bug
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** A value a refusal's words are built from (locales/<lang>/refusals.json placeholders). */
export type RefusalParam = string | number | boolean | readonly string[];

export interface CaErrorOptions {
  readonly cause?: unknown;
  /**
   * The refusal's stable code (e.g. `order.action-not-in-state`, `register.deceased`): the key of
   * its words in every language (src/i18n, locales/<lang>/refusals.json) and machine-readable in
   * the problem body. Absent: the kind alone names it.
   */
  readonly code?: string;
  /** The facts the words are built from (an action, a state, a number of days); never secrets. */
  readonly params?: Readonly<Record<string, RefusalParam>>;
}

export class CaError extends Error {
  readonly kind: ErrorKind;
  /** Machine-readable details (field names, lint ids); never secrets. */
  readonly details: Record<string, unknown> | undefined;
  /** The stable refusal code, `kind` when the thrower gave none. */
  readonly code: string;
  readonly params: Readonly<Record<string, RefusalParam>>;

  /** `message` is for logs, the CLI and the audit trail (English); people read the code's words. */
  constructor(kind: ErrorKind, message: string, details?: Record<string, unknown>, options?: CaErrorOptions) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "CaError";
    this.kind = kind;
    this.details = details;
    this.code = options?.code ?? kind;
    this.params = options?.params ?? {};
  }

  /** Whether the thrower named a code (not just the kind). */
  get coded(): boolean {
    return this.code !== this.kind;
  }

  static is(e: unknown, kind?: ErrorKind): e is CaError {
    return e instanceof CaError && (kind === undefined || e.kind === kind);
  }
}

/** Wraps an unknown thrown value; CaErrors pass through unchanged. */
export function asCaError(e: unknown, kind: ErrorKind = "internal"): CaError {
  if (e instanceof CaError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CaError(kind, message, undefined, { cause: e });
}
