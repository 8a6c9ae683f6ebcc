// CodeMirror (~400 KB of JavaScript) is loaded the first time a code field is shown, not
// with the editor page: the canvas opens without it, and the form shows the value as plain
// text for the moment it takes to arrive. Same props as CodeField.
import { type ComponentProps, lazy, Suspense } from "react";

import type { CodeField as EagerCodeField } from "./CodeField";

type Props = ComponentProps<typeof EagerCodeField>;

const Loaded = lazy(() => import("./CodeField").then((module) => ({ default: module.CodeField })));

export function CodeField(props: Props) {
  return (
    <Suspense fallback={<pre className="fm-code fm-code-loading" aria-busy="true" aria-label={props.label}>{props.value}</pre>}>
      <Loaded {...props} />
    </Suspense>
  );
}
