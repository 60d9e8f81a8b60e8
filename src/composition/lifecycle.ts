import { logger } from "../shared/log.js";

const log = logger("lifecycle");

/** One part of a running service: started in list order, stopped in reverse. */
export interface Component {
  readonly name: string;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

/**
 * The ordered start/stop of a role: every component that started is stopped, last first, also
 * when a later one fails to start (the failure is rethrown after the cleanup).
 */
export class Lifecycle {
  private readonly started: Component[] = [];
  private stopping: Promise<void> | undefined;

  /**
   * Starts one component; on failure stops it (it may have started a part of itself) and then
   * everything started before it, and rethrows.
   */
  async start(c: Component): Promise<void> {
    try {
      await c.start?.();
    } catch (e) {
      log.error("component failed to start", { part: c.name, error: e });
      await c.stop?.().catch((err: unknown) => log.error("component failed to stop", { part: c.name, error: err }));
      await this.stop();
      throw e;
    }
    this.started.push(c);
  }

  /** Starts a component built by `make` (which may itself fail: then the rest is stopped too). */
  async add<T extends Component>(make: () => Promise<T> | T): Promise<T> {
    let c: T;
    try {
      c = await make();
    } catch (e) {
      await this.stop();
      throw e;
    }
    await this.start(c);
    return c;
  }

  /** Registers something already running (a resource opened by a builder) for the reverse stop. */
  own(name: string, stop: () => Promise<void> | void): void {
    this.started.push({ name, stop: async () => stop() });
  }

  get names(): readonly string[] {
    return this.started.map((c) => c.name);
  }

  /** Stops in reverse start order; a failing stop is logged and the rest still stop. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (let c = this.started.pop(); c; c = this.started.pop()) {
        try {
          await c.stop?.();
        } catch (e) {
          log.error("component failed to stop", { part: c.name, error: e });
        }
      }
    })().finally(() => (this.stopping = undefined));
    return this.stopping;
  }
}
