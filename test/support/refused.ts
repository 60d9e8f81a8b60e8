import { CaError } from "../../src/shared/ca-error.js";

/** The CaError an operation is refused with; fails the test when it succeeds or throws anything else. */
export async function refused(p: Promise<unknown>): Promise<CaError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CaError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

/** The CaError a synchronous call is refused with; fails the test when it succeeds or throws anything else. */
export function refusal(f: () => unknown): CaError {
  try {
    f();
  } catch (e) {
    if (e instanceof CaError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}
