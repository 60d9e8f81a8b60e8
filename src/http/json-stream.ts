import type { Response } from "express";

/**
 * A large JSON answer written piece by piece (arrays element by element), with backpressure and a
 * turn of the event loop every few hundred elements, so a year's conformance report neither
 * builds one huge string nor stalls other requests.
 */
export class JsonStream<T = unknown> {
  constructor(readonly value: T) {}

  async pipeTo(res: Response, status = 200): Promise<void> {
    res.status(status).type("application/json");
    let n = 0;
    const write = async (s: string) => {
      if (res.destroyed) throw new Error("client went away");
      if (!res.write(s)) await new Promise<void>((resolve) => res.once("drain", resolve));
      if (++n % 256 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    };
    const emit = async (v: unknown): Promise<void> => {
      if (Array.isArray(v)) {
        await write("[");
        for (let i = 0; i < v.length; i++) {
          if (i) await write(",");
          await emit(v[i]);
        }
        await write("]");
      } else if (
        v &&
        typeof v === "object" &&
        !(v instanceof Date) &&
        typeof (v as { toJSON?: unknown }).toJSON !== "function"
      ) {
        const entries = Object.entries(v).filter(([, x]) => x !== undefined && typeof x !== "function");
        await write("{");
        for (let i = 0; i < entries.length; i++) {
          await write(`${i ? "," : ""}${JSON.stringify(entries[i]![0])}:`);
          await emit(entries[i]![1]);
        }
        await write("}");
      } else {
        await write(JSON.stringify(v) ?? "null");
      }
    };
    try {
      await emit(this.value);
      res.end();
    } catch {
      res.destroy();
    }
  }
}
