import { pino, type Logger as PinoLogger } from "pino";
import { systemClock, type Clock } from "./clock.js";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Readonly<Record<string, unknown>>;
export type LogFormat = "json" | "text";

/**
 * Field names whose values never reach a log line (REQ-26 PINs and shares, REQ-06/15 tokens and
 * codes, REQ-28 national IDs, REQ-29 names and addresses): pino replaces them with "[redacted]",
 * at the top level and one or two objects down.
 */
export const REDACTED_FIELDS = [
  "pin",
  "newPin",
  "oldPin",
  "transportPin",
  "puk",
  "passphrase",
  "password",
  "share",
  "token",
  "applicantToken",
  "activationCode",
  "code",
  "csrfToken",
  "cookie",
  "authorization",
  "secret",
  "nationalId",
  "nationalIdNumber",
  "personalNumber",
  "name",
  "givenName",
  "surname",
  "fullName",
  "email",
  "phone",
  "postalAddress",
  "address",
] as const;
const REDACT_PATHS = REDACTED_FIELDS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
export const REDACTED = "[redacted]";

export interface LogOptions {
  /** JSON lines (the service, for a log shipper) or text (the CLI, people at a terminal). */
  readonly format?: LogFormat;
  readonly level?: LogLevel;
  /** Where lines go (default: stderr). */
  readonly out?: (line: string) => void;
  readonly clock?: Clock;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : e);

/** Text form of one pino JSON line: `level: component: msg k=v` (info without its level). */
function textLine(json: string): string {
  const { level, time: _t, pid: _p, component, msg, ...fields } = JSON.parse(json) as Record<string, unknown>;
  const extra = Object.entries(fields)
    .map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("");
  return (
    `${level === "info" ? "" : `${String(level)}: `}${String(component ?? "cardpki")}: ` +
    `${String(msg ?? "")}${extra}\n`
  );
}

function build(opts: LogOptions): PinoLogger {
  const clock = opts.clock ?? systemClock;
  const write = opts.out ?? ((l: string) => void process.stderr.write(l));
  const text = (opts.format ?? "text") === "text";
  const destination =
    !opts.out && !text
      ? pino.destination({ dest: 2, sync: true })
      : { write: (l: string) => write(text ? textLine(l) : l) };
  return pino(
    {
      level: opts.level ?? "info",
      base: { pid: process.pid },
      messageKey: "msg",
      timestamp: () => `,"time":"${clock.now().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: errorText, err: errorText },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
    },
    destination,
  );
}

let root = build({});
let generation = 0;

/** Composition sets the process's logging once at start-up (`serve`: JSON lines on stderr). */
export function configureLogs(opts: LogOptions): void {
  root = build(opts);
  generation++;
}

/** A logger for one component (pino child); a later configureLogs applies to loggers made before it. */
export function logger(component: string) {
  let child: PinoLogger | undefined;
  let seen = -1;
  const get = () => {
    if (seen !== generation) {
      child = root.child({ component });
      seen = generation;
    }
    return child!;
  };
  return {
    debug: (msg: string, fields?: LogFields) => get().debug(fields ?? {}, msg),
    info: (msg: string, fields?: LogFields) => get().info(fields ?? {}, msg),
    warn: (msg: string, fields?: LogFields) => get().warn(fields ?? {}, msg),
    error: (msg: string, fields?: LogFields) => get().error(fields ?? {}, msg),
  };
}

export type Logger = ReturnType<typeof logger>;
