// An eslint rule: comments and test titles cite the rule (RFC, REQ, CPS section), never a work item
// of the tracker (`issue 12`, `#14`, `task 9`): the tracker changes, the rule it implemented does not.

/** `issue 12`, `Issues #3`, `task 9`, `ticket 4`, `PR 17`, `work item 2`. */
const NAMED = /\b(?:issues?|tasks?|tickets?|stor(?:y|ies)|bugs?|PRs?|pull requests?|work items?)\s*#?\d+\b/i;
/** A bare `#14`, except Unicode's own document numbers (UTS #39, UAX #9, UTR #36). */
const BARE = /(?<![A-Za-z0-9&#])(?<!\b(?:UTS|UAX|UTR|TR) )#\d+\b/;

const TEST_FUNCTIONS = new Set(["describe", "it", "context", "test", "suite", "specify"]);

export function findWorkItemRef(text) {
  const m = NAMED.exec(text) ?? BARE.exec(text);
  return m ? m[0] : undefined;
}

/** @type {import("eslint").Rule.RuleModule} */
export const noWorkItemRefs = {
  meta: {
    type: "suggestion",
    docs: { description: "Cite the rule (RFC, REQ, CPS section), not a work-item number" },
    messages: { cite: "'{{ref}}' names a work item: cite the rule instead (RFC, REQ, CPS section)" },
    schema: [],
  },
  create(context) {
    const report = (node, loc, text) => {
      const ref = findWorkItemRef(text);
      if (ref) context.report({ node, loc, messageId: "cite", data: { ref } });
    };
    return {
      Program(node) {
        for (const c of context.sourceCode.getAllComments()) report(node, c.loc, c.value);
      },
      CallExpression(node) {
        const callee = node.callee.type === "MemberExpression" ? node.callee.object : node.callee;
        if (callee.type !== "Identifier" || !TEST_FUNCTIONS.has(callee.name)) return;
        const title = node.arguments[0];
        if (title?.type === "Literal" && typeof title.value === "string") report(title, title.loc, title.value);
        if (title?.type === "TemplateLiteral")
          report(title, title.loc, title.quasis.map((q) => q.value.cooked ?? "").join("${}"));
      },
    };
  },
};
