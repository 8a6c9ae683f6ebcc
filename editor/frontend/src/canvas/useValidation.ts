// Validation while drawing: a fast client-side pre-check on every change, and the
// server's validation (the authority) shortly after the user pauses.
import { useEffect, useMemo, useState } from "react";

import { ApiError } from "../api/client";
import { workflowsApi } from "../api/endpoints";
import type { ValidationIssue } from "../api/types";
import { precheck } from "../lib/graph";
import { readableIssues } from "../lib/issueText";
import { lintWith, loadParser, problemText } from "../lib/jsLint";
import { isExpressionField } from "../lib/schemaForm";
import { graphStore, useGraph } from "../store/graphStore";
import { indexIssues, type IssueIndex } from "./convert";

export const PRECHECK_DELAY_MS = 120;
export const SERVER_VALIDATE_DELAY_MS = 900;

function dedupe(issues: readonly ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.nodeId ?? ""}|${i.edgeId ?? ""}|${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The editor's own problems, less those on a node or edge the server already speaks about:
 * the two word one problem differently, and the server's answer wins. Problems without a
 * node or edge are kept (they are de-duplicated by message). */
export function mergeIssues(server: { errors: readonly ValidationIssue[]; warnings: readonly ValidationIssue[] },
                            client: readonly ValidationIssue[]): { errors: ValidationIssue[]; warnings: ValidationIssue[] } {
  const spoken = new Set<string>();
  for (const i of [...server.errors, ...server.warnings]) {
    if (i.nodeId) spoken.add(`node:${i.nodeId}`);
    if (i.edgeId) spoken.add(`edge:${i.edgeId}`);
  }
  const own = client.filter((i) => !(i.nodeId && spoken.has(`node:${i.nodeId}`)) && !(i.edgeId && spoken.has(`edge:${i.edgeId}`)));
  return {
    errors: dedupe([...server.errors, ...own.filter((i) => i.severity !== "warning")]),
    warnings: dedupe([...server.warnings, ...own.filter((i) => i.severity === "warning")]),
  };
}

export function useValidation(workflowId: string): { errors: ValidationIssue[]; warnings: ValidationIssue[]; index: IssueIndex } {
  const definition = useGraph((s) => s.definition);
  const nodeTypes = useGraph((s) => s.nodeTypes);
  const server = useGraph((s) => s.serverIssues);
  const dragging = useGraph((s) => s.gestureStart !== null);
  const [client, setClient] = useState<ValidationIssue[]>([]);
  const [syntax, setSyntax] = useState<ValidationIssue[]>([]);

  // JavaScript syntax of every expression field, before saving (the server only finds it at run time).
  useEffect(() => {
    if (dragging) return;
    let stopped = false;
    const timer = window.setTimeout(() => {
      void loadParser().then((acorn) => {
        if (stopped) return;
        const found: ValidationIssue[] = [];
        for (const node of definition.nodes) {
          const properties = nodeTypes[node.type]?.schema.properties ?? {};
          for (const [name, schema] of Object.entries(properties)) {
            const code = node.config[name];
            if (typeof code !== "string" || !isExpressionField(name, schema)) continue;
            const problem = lintWith(acorn, code);
            if (problem) found.push({ nodeId: node.id, message: `${name}: ${problemText(problem)}` });
          }
        }
        setSyntax(found);
      }).catch(() => {
        // The parser could not be downloaded (network): the server still checks the code on
        // save and run, and the next edit tries the download again.
      });
    }, PRECHECK_DELAY_MS);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [definition, nodeTypes, dragging]);

  useEffect(() => {
    if (dragging) return;
    const timer = window.setTimeout(() => setClient(precheck(definition, nodeTypes)), PRECHECK_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [definition, nodeTypes, dragging]);

  useEffect(() => {
    if (dragging || !workflowId || !Object.keys(nodeTypes).length) return;
    let cancelled = false;
    const timer = window.setTimeout(() => {
      workflowsApi
        .validate(workflowId, definition)
        .then((result) => {
          if (!cancelled) graphStore.getState().setServerIssues({ errors: result.errors ?? [], warnings: result.warnings ?? [] });
        })
        .catch((err: unknown) => {
          // A 400 carrying `errors` is a validation answer too.
          if (!cancelled && err instanceof ApiError && err.errors.length) {
            graphStore.getState().setServerIssues({ errors: err.errors as ValidationIssue[], warnings: [] });
          }
        });
    }, SERVER_VALIDATE_DELAY_MS);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [definition, nodeTypes, workflowId, dragging]);

  return useMemo(() => {
    const ids = new Set(definition.nodes.map((n) => n.id));
    const edgeIds = new Set(definition.edges.map((e) => e.id));
    // Drop server messages about nodes/edges that no longer exist (the answer may be stale).
    const live = (i: ValidationIssue) => (!i.nodeId || ids.has(i.nodeId)) && (!i.edgeId || edgeIds.has(i.edgeId));
    const merged = mergeIssues({ errors: server.errors.filter(live), warnings: server.warnings.filter(live) }, client);
    // Expression syntax is the editor's alone (the server finds it only at run time): always shown.
    const errors = readableIssues(dedupe([...merged.errors, ...syntax]), definition, nodeTypes);
    const warnings = readableIssues(merged.warnings, definition, nodeTypes);
    return { errors, warnings, index: indexIssues(errors, warnings) };
  }, [server, client, syntax, definition, nodeTypes]);
}
