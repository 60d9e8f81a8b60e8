import { systemClock, type Clock } from "./clock.js";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Readonly<Record<string, unknown>>;

/** Where log lines go; composition picks JSON (the service) or text (the CLI, tests). */
export interface LogSink {
  write(level: LogLevel, component: string, msg: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured logs: one JSON object per line on stderr, for a log shipper (issue 9). Never secrets. */
export function jsonSink(opts: { clock?: Clock; min?: LogLevel; out?: (line: string) => void } = {}): LogSink {
  const clock = opts.clock ?? systemClock;
  const min = ORDER[opts.min ?? "info"];
  const out = opts.out ?? ((l: string) => void process.stderr.write(l));
  return {
    write(level, component, msg, fields) {
      if (ORDER[level] < min) return;
      const errorFields = fields && fields.error instanceof Error ? { error: fields.error.message } : {};
      out(JSON.stringify({ time: clock.now().toISOString(), level, component, msg, ...fields, ...errorFields }) + "\n");
    },
  };
}

/** Human-readable lines (the default outside `serve`). */
export function textSink(opts: { min?: LogLevel; out?: (line: string) => void } = {}): LogSink {
  const min = ORDER[opts.min ?? "info"];
  const out = opts.out ?? ((l: string) => void process.stderr.write(l));
  return {
    write(level, component, msg, fields) {
      if (ORDER[level] < min) return;
      const extra = fields ? Object.entries(fields).map(([k, v]) => ` ${k}=${v instanceof Error ? v.message : typeof v === "string" ? v : JSON.stringify(v)}`).join("") : "";
      out(`${level === "info" ? "" : `${level}: `}${component}: ${msg}${extra}\n`);
    },
  };
}

let sink: LogSink = textSink();

/** Composition sets the process's sink once at start-up. */
export function setLogSink(s: LogSink): void {
  sink = s;
}

/** A logger for one component; the sink is looked up per line so a later setLogSink applies. */
export function logger(component: string) {
  return {
    debug: (msg: string, fields?: LogFields) => sink.write("debug", component, msg, fields),
    info: (msg: string, fields?: LogFields) => sink.write("info", component, msg, fields),
    warn: (msg: string, fields?: LogFields) => sink.write("warn", component, msg, fields),
    error: (msg: string, fields?: LogFields) => sink.write("error", component, msg, fields),
  };
}

export type Logger = ReturnType<typeof logger>;
