import type { Actor } from "./order.js";

/**
 * One human, one identity (REQ-10, REQ-28): the keyed hash of the national ID, the same in every
 * organisation the person is bound to. A re-bound person's old record keeps its hash with a
 * suffix (`<hash>:<record id>`); the human is the part before it.
 */
export function humanIdOf(nationalIdHash: string): string {
  return nationalIdHash.split(":")[0]!;
}

/** The human behind an actor; undefined for actors that are no person (the applicant's token, the system). */
export function humanOf(actor: Actor): string | undefined {
  return actor.humanId;
}

/** True when the actor is the human `humanId` (never true when either side is unknown). */
export function isHuman(actor: Actor, humanId: string | undefined): boolean {
  return actor.humanId !== undefined && humanId !== undefined && actor.humanId === humanId;
}
