// CodeMirror for JavaScript expressions and `{{…}}` templates.
import { javascript } from "@codemirror/lang-javascript";
import CodeMirror, { EditorView } from "@uiw/react-codemirror";
import { useMemo } from "react";

import { cspNonce } from "../lib/cspNonce";

interface Props {
  id: string;
  value: string;
  language: "javascript" | "template";
  onChange: (value: string) => void;
  placeholder?: string;
  label: string;
  testId: string;
  minHeight?: string;
}

function nonceExtension() {
  const nonce = cspNonce();
  return nonce ? [EditorView.cspNonce.of(nonce)] : [];
}

export function CodeField({ id, value, language, onChange, placeholder, label, testId, minHeight }: Props) {
  const extensions = useMemo(
    () => [
      ...(language === "javascript" ? [javascript()] : []),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ "aria-label": label, id }),
      // CodeMirror styles itself with a <style> element it creates: give it the page's nonce.
      ...nonceExtension(),
    ],
    [language, label, id],
  );
  return (
    <div className={`fm-code fm-code-${language}`} data-testid={testId}>
      <CodeMirror
        value={value}
        onChange={onChange}
        extensions={extensions}
        placeholder={placeholder}
        // Auto-closing brackets would fight the user typing `{{path}}` in templates.
        basicSetup={{ lineNumbers: language === "javascript", foldGutter: false, highlightActiveLine: false, autocompletion: false, closeBrackets: language === "javascript" }}
        minHeight={minHeight ?? (language === "javascript" ? "72px" : "30px")}
        maxHeight="240px"
      />
    </div>
  );
}
