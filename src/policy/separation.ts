import { Type } from "@sinclair/typebox";
import type { OrderState, Transition, Workflow } from "./workflow.js";

/** Two actions of a workflow that must be taken by distinct humans ("request" is the order's creation). */
export type SeparationPair = readonly [string, string];

/** The step "request": the officer (or, for a renewal, the holder) who created the order. */
export const REQUEST_STEP = "request";

/** JSON schema of a workflow's `separation` matrix (REQ-10). */
export const SEPARATION_SCHEMA = Type.Array(
  // A pair as a two-item array (`items` one schema, not a tuple: the refusal words stay those of minItems/maxItems).
  Type.Unsafe<SeparationPair>(
    Type.Array(Type.String({ pattern: "^[a-z][a-z-]{1,40}$" }), { minItems: 2, maxItems: 2 }),
  ),
  { minItems: 1, maxItems: 64 },
);

/** Do the two actions have to be taken by distinct humans under this matrix? */
export function separated(matrix: readonly SeparationPair[], a: string, b: string): boolean {
  return matrix.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
}

/**
 * What the loader refuses in a workflow's separation matrix (REQ-10): unknown or non-officer
 * actions, a LoA3 matrix that lets an identifier approve or hand out or the approver hand out (or
 * one officer identify twice), and any workflow in which one human could take an order from
 * REQUESTED to ACTIVE on their own. Returns the first problem, or undefined.
 */
export function separationProblem(
  w: Pick<Workflow, "loa" | "identifications" | "transitions" | "separation">,
): string | undefined {
  const officerActions = new Set(w.transitions.filter((t) => t.by === "officer").map((t) => t.action));
  const seen = new Set<string>();
  for (const [a, b] of w.separation) {
    for (const x of [a, b])
      if (x !== REQUEST_STEP && !officerActions.has(x))
        return (
          `separation names '${x}', which is no officer action of this workflow ` +
          `(${[...officerActions].join(", ")}, or ${REQUEST_STEP})`
        );
    const k = [a, b].sort().join("|");
    if (seen.has(k)) return `separation lists [${a}, ${b}] twice`;
    seen.add(k);
  }
  const into = (s: OrderState) => [
    ...new Set(w.transitions.filter((t) => t.to === s && t.by === "officer").map((t) => t.action)),
  ];
  if (w.loa === 3) {
    const identify = into("IDENTIFIED"),
      approve = into("APPROVED"),
      handOut = into("HANDED_OUT");
    const must: [string, string, string][] = [
      ...identify.map((i): [string, string, string] => [
        i,
        i,
        "the two identifications are by different humans (REQ-03)",
      ]),
      ...identify.flatMap((i) => approve.map((a): [string, string, string] => [i, a, "an identifier may not approve"])),
      ...identify.flatMap((i) =>
        handOut.map((h): [string, string, string] => [i, h, "an identifier may not hand out (REQ-04)"]),
      ),
      ...approve.flatMap((a) => handOut.map((h): [string, string, string] => [a, h, "the approver may not hand out"])),
    ];
    for (const [a, b, why] of must)
      if (!separated(w.separation, a, b)) return `a LoA3 separation matrix must hold [${a}, ${b}]: ${why} (REQ-10)`;
  }
  const path = singleHumanPath(w);
  if (path)
    return (
      `one human could take an order from REQUESTED to ACTIVE alone ` +
      `(${path.join(" → ")}); the separation matrix must split these steps (REQ-10)`
    );
  return undefined;
}

/**
 * A path from REQUESTED to ACTIVE on which one human could take every officer step (none of the
 * pairs they take is separated), counting the identifications an approval needs; undefined if
 * there is none. Conservative: guards other than the matrix (distinct-identifiers...) are ignored.
 */
export function singleHumanPath(
  w: Pick<Workflow, "identifications" | "transitions" | "separation">,
): string[] | undefined {
  interface Node {
    state: OrderState;
    used: readonly string[];
    ids: number;
    byEid: boolean;
    path: string[];
  }
  const key = (n: Node) => `${n.state}|${[...n.used].sort().join(",")}|${n.ids}|${n.byEid}`;
  const start: Node = { state: "REQUESTED", used: [], ids: 0, byEid: false, path: [] };
  const seen = new Set([key(start)]);
  const todo: Node[] = [start];
  const allowed = (n: Node, t: Transition) => {
    if (t.guards.includes("identifications-complete") && !n.byEid && n.ids < w.identifications) return false;
    if (t.by !== "officer") return true;
    return !n.used.some((b) => separated(w.separation, t.action, b));
  };
  while (todo.length) {
    const n = todo.shift()!;
    if (n.state === "ACTIVE") return n.path;
    for (const t of w.transitions) {
      if (!t.from.includes(n.state) || !allowed(n, t)) continue;
      const m: Node = {
        state: t.to,
        used: t.by === "officer" && !n.used.includes(t.action) ? [...n.used, t.action] : n.used,
        ids: Math.min(w.identifications, n.ids + (t.by === "officer" && t.to === "IDENTIFIED" ? 1 : 0)),
        byEid: n.byEid || (t.by === "holder" && t.to === "IDENTIFIED"),
        path: [...n.path, `${t.action}${t.by === "officer" ? "" : ` (${t.by})`}`],
      };
      const k = key(m);
      if (!seen.has(k)) {
        seen.add(k);
        todo.push(m);
      }
    }
  }
  return undefined;
}
