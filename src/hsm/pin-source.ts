import { readFileSync, statSync } from "node:fs";
import { CaError } from "../shared/ca-error.js";

/** Where a token PIN comes from: injected, never read from a file in the repository. */
export interface PinSource {
  readonly description: string;
  read(): Promise<string>;
}

export function staticPin(pin: string, description = "given PIN"): PinSource {
  return { description, read: async () => pin };
}

export function envPin(variable: string): PinSource {
  return {
    description: `environment variable ${variable}`,
    read: async () => {
      const v = process.env[variable];
      if (!v) throw new CaError("config", `PIN variable ${variable} is not set`);
      return v;
    },
  };
}

/** A PIN file must be readable by its owner only (like ssh keys): mode 0600 or 0400. */
export function filePin(path: string): PinSource {
  return {
    description: `file ${path}`,
    read: async () => {
      let mode: number;
      try {
        mode = statSync(path).mode;
      } catch (e) {
        throw new CaError("config", `PIN file ${path}: ${(e as Error).message}`);
      }
      if ((mode & 0o077) !== 0)
        throw new CaError(
          "config",
          `PIN file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
        );
      const pin = readFileSync(path, "utf8").replace(/\r?\n$/, "");
      if (pin.length === 0) throw new CaError("config", `PIN file ${path} is empty`);
      return pin;
    },
  };
}
