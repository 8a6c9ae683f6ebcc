// JavaScript syntax checks for `transform` / `condition` expressions while editing, before
// anything is saved or run. The code is only parsed (acorn), never executed. It is read the
// way the sandbox reads it (engine/expressions/worker.py): first as an expression
// (`return (CODE);`, a trailing `;` allowed), then as a function body (`… return x;`); only
// when both fail is it an error, reported at the body's position.
import type { Options } from "acorn";

export interface JsProblem {
  message: string;
  /** 1-based line and column in the user's code. */
  line: number;
  column: number;
  /** Offset in the user's code (for inline markers). */
  from: number;
}

type Acorn = typeof import("acorn");
let acornModule: Promise<Acorn> | null = null;

/** acorn is loaded on first use, so pages without code fields do not download it. A failed
 * download (the network dropped, the server restarted) is forgotten, so the next check
 * fetches it again instead of failing for the rest of the page's life. */
export function loadParser(): Promise<Acorn> {
  acornModule ??= import("acorn").catch((err: unknown) => {
    acornModule = null;
    throw err;
  });
  return acornModule;
}

const OPTIONS: Options = { ecmaVersion: "latest", sourceType: "script", allowReturnOutsideFunction: true };

interface AcornSyntaxError extends SyntaxError {
  pos?: number;
  loc?: { line: number; column: number };
}

function cleanMessage(message: string): string {
  // acorn appends " (line:col)"; the position is reported separately.
  return message.replace(/\s*\(\d+:\d+\)$/, "");
}

/** Synchronous check with a loaded parser (see `lintExpression`). */
export function lintWith(acorn: Acorn, code: string): JsProblem | null {
  if (!code.trim()) return null;
  const asExpression = code.trim().replace(/;\s*$/, "");
  try {
    // The wrapper adds "(" before the code: the same line numbers, columns off by one only on line 1.
    acorn.parse(`(${asExpression}\n)`, OPTIONS);
    return null;
  } catch {
    /* not an expression: try it as a function body */
  }
  try {
    acorn.parse(code, OPTIONS);
    return null;
  } catch (err) {
    const e = err as AcornSyntaxError;
    const line = e.loc?.line ?? 1;
    const column = (e.loc?.column ?? 0) + 1;
    return { message: `SyntaxError: ${cleanMessage(e.message)}`, line, column, from: Math.min(e.pos ?? 0, code.length) };
  }
}

/** null also when the parser cannot be downloaded right now: the server checks on save. */
export async function lintExpression(code: string): Promise<JsProblem | null> {
  try {
    return lintWith(await loadParser(), code);
  } catch {
    return null;
  }
}

export function problemText(problem: JsProblem): string {
  return `${problem.message} (line ${problem.line}, column ${problem.column})`;
}
