// What code fields of the node being edited can offer besides editing: the names to
// complete and a "test this expression" against the last run. Given by the node panel.
import { createContext } from "react";

import type { NameCompletion } from "../lib/completions";

export interface ExpressionTestResult {
  ok: boolean;
  value?: unknown;
  error?: string;
  kind?: string;
  logs: string[];
}

export interface CodeContextValue {
  completions: NameCompletion[];
  /** Evaluate an expression on the input of the last run (absent: no test button). */
  test?: (code: string) => Promise<ExpressionTestResult>;
  /** What the test runs on, for the button's label ("the input of run #12"). */
  testSubject?: string;
}

export const CodeContext = createContext<CodeContextValue>({ completions: [] });
