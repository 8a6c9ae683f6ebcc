// CodeMirror for JavaScript expressions and `{{…}}` templates: syntax errors marked inline
// while typing (parsed, never run), completion of the names a node can use, and a
// full-size editor for longer code.
import { autocompletion, type Completion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { javascript } from "@codemirror/lang-javascript";
import { type Diagnostic, linter } from "@codemirror/lint";
import CodeMirror, { EditorView } from "@uiw/react-codemirror";
import { useEffect, useMemo, useState } from "react";

import { Dialog } from "../dialogs/Dialog";
import type { NameCompletion } from "../lib/completions";
import { cspNonce } from "../lib/cspNonce";
import { type JsProblem, lintExpression, problemText } from "../lib/jsLint";

interface Props {
  id: string;
  value: string;
  language: "javascript" | "template";
  onChange: (value: string) => void;
  placeholder?: string;
  label: string;
  testId: string;
  minHeight?: string;
  /** Check the code as a sandbox expression while typing. */
  lint?: boolean;
  completions?: NameCompletion[];
  /** Offer the full-size editor. */
  expandable?: boolean;
  maxHeight?: string;
}

function nonceExtension() {
  const nonce = cspNonce();
  return nonce ? [EditorView.cspNonce.of(nonce)] : [];
}

/** Completion of `name` and `name.member`; in templates only inside `{{ … }}`. */
export function completionSource(names: readonly NameCompletion[], template: boolean) {
  return (context: CompletionContext): CompletionResult | null => {
    // (No `$` in the pattern: matchBefore anchors it at the cursor only when it does not end in one.)
    const word = context.matchBefore(/[A-Za-z_$][\w$]*(?:\.[\w$]*)*/) ?? (context.explicit ? { from: context.pos, to: context.pos, text: "" } : null);
    if (!word) return null;
    if (template) {
      const before = context.state.doc.sliceString(Math.max(0, word.from - 200), word.from);
      if (before.lastIndexOf("{{") <= before.lastIndexOf("}}")) return null;
    }
    if (word.from === word.to && !context.explicit) return null;
    const text = word.text;
    const dot = text.lastIndexOf(".");
    if (dot > 0) {
      const head = text.slice(0, dot);
      const name = names.find((n) => n.label === head);
      if (!name?.members?.length) return null;
      return { from: word.from + dot + 1, options: name.members.map((m): Completion => ({ label: m, type: "property", detail: head })), validFor: /^[\w$]*$/ };
    }
    return {
      from: word.from,
      options: names.map((n): Completion => ({ label: n.label, type: "variable", detail: n.detail })),
      validFor: /^[\w$]*$/,
    };
  };
}

export function CodeField({ id, value, language, onChange, placeholder, label, testId, minHeight, lint = false, completions, expandable = false, maxHeight }: Props) {
  const [problem, setProblem] = useState<JsProblem | null>(null);
  const [expanded, setExpanded] = useState(false);

  useEffect(() => {
    if (!lint) return;
    let stopped = false;
    const timer = window.setTimeout(() => {
      void lintExpression(value).then((p) => !stopped && setProblem(p));
    }, 150);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [lint, value]);

  const extensions = useMemo(
    () => [
      ...(language === "javascript" ? [javascript()] : []),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ "aria-label": label, id }),
      // CodeMirror styles itself with a <style> element it creates: give it the page's nonce.
      ...nonceExtension(),
      ...(lint
        ? [
            linter(async (view): Promise<Diagnostic[]> => {
              const found = await lintExpression(view.state.doc.toString());
              if (!found) return [];
              const from = Math.min(found.from, view.state.doc.length);
              return [{ from, to: Math.min(from + 1, view.state.doc.length), severity: "error", message: problemText(found) }];
            }, { delay: 150 }),
          ]
        : []),
      ...(completions ? [autocompletion({ override: [completionSource(completions, language === "template")], activateOnTyping: true })] : []),
    ],
    [language, label, id, lint, completions],
  );

  const editor = (big: boolean) => (
    <CodeMirror
      value={value}
      onChange={onChange}
      extensions={extensions}
      placeholder={placeholder}
      autoFocus={big}
      // Auto-closing brackets would fight the user typing `{{path}}` in templates.
      basicSetup={{ lineNumbers: language === "javascript" || big, foldGutter: false, highlightActiveLine: false, autocompletion: false, closeBrackets: language === "javascript" }}
      minHeight={big ? "60vh" : minHeight ?? (language === "javascript" ? "72px" : "30px")}
      maxHeight={big ? "70vh" : maxHeight ?? "240px"}
    />
  );

  return (
    <>
      <div className={`fm-code fm-code-${language}${problem ? " has-problem" : ""}`} data-testid={testId}>
        {editor(false)}
        {expandable ? (
          <button type="button" className="fm-code-expand" data-testid={`${testId}-expand`} aria-label={`Open ${label} in a full-size editor`} title="Full-size editor" onClick={() => setExpanded(true)}>
            ⤢
          </button>
        ) : null}
      </div>
      {problem ? (
        <div className="fm-field-error" role="alert" data-testid={`${testId}-problem`}>
          {problemText(problem)}
        </div>
      ) : null}
      {expanded ? (
        <Dialog title={label} titleId={`${id}-expanded-title`} ariaLabel={`${label} (full size)`} testId={`${testId}-expanded`}
                className="fm-modal-wide" onClose={() => setExpanded(false)}>
          <div className="fm-code fm-code-big">{editor(true)}</div>
          {problem ? (
            <div className="fm-field-error" role="alert">
              {problemText(problem)}
            </div>
          ) : null}
          <div className="fm-modal-actions">
            <button type="button" className="fm-btn fm-btn-primary" data-testid={`${testId}-collapse`} onClick={() => setExpanded(false)}>
              Done
            </button>
          </div>
        </Dialog>
      ) : null}
    </>
  );
}
