// CodeMirror (~400 KB of JavaScript) is loaded the first time a code field is shown, not
// with the editor page: the canvas opens without it, and the form shows the value as plain
// text for the moment it takes to arrive. Same props as CodeField.
//
// Not React.lazy: a lazy component whose download fails throws while rendering, and with no
// error boundary React unmounts the whole page, taking the canvas and its unsaved changes
// off the screen (a server restart or a dropped connection was enough). Here a failed
// download leaves an editable plain text box, and the next code field shown tries again.
import { type ComponentProps, useEffect, useState } from "react";

import type { CodeField as EagerCodeField } from "./CodeField";

type Props = ComponentProps<typeof EagerCodeField>;
type Component = typeof EagerCodeField;

let loaded: Component | null = null;
let loading: Promise<Component> | null = null;

function load(): Promise<Component> {
  loading ??= import("./CodeField").then(
    (module) => (loaded = module.CodeField),
    (err: unknown) => {
      loading = null;
      throw err;
    },
  );
  return loading;
}

export function CodeField(props: Props) {
  const [Loaded, setLoaded] = useState<Component | null>(() => loaded);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (Loaded) return;
    let stopped = false;
    load().then(
      (component) => !stopped && setLoaded(() => component),
      () => !stopped && setFailed(true),
    );
    return () => {
      stopped = true;
    };
  }, [Loaded]);

  if (Loaded) return <Loaded {...props} />;
  if (!failed) {
    // A read-only box while the editor loads: a name (aria-label) is not allowed on a
    // plain <pre>, and the field needs one.
    return (
      <pre className="fm-code fm-code-loading" role="textbox" aria-readonly="true" aria-multiline="true" aria-busy="true"
           aria-label={props.label}>{props.value}</pre>
    );
  }
  return (
    <div className={`fm-code fm-code-${props.language} fm-code-plain`} data-testid={props.testId}>
      <textarea
        id={props.id}
        aria-label={props.label}
        value={props.value}
        placeholder={props.placeholder}
        spellCheck={false}
        style={{ minHeight: props.minHeight ?? "4em" }}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </div>
  );
}
