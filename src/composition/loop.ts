import { logger } from "../shared/log.js";

const log = logger("serve");

export interface Loop {
  stop(): Promise<void>;
  kick(): Promise<unknown>;
}

/** A loop that never overlaps itself and never lets an error escape. */
export function loop(name: string, everyMs: number, work: () => Promise<unknown>): Loop {
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const run = (): Promise<unknown> => {
    if (running || stopped) return running ?? Promise.resolve();
    running = work()
      .catch((e) => log.error(`${name} failed`, { error: e }))
      .finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(run, everyMs);
  timer.unref();
  return {
    kick: run,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
