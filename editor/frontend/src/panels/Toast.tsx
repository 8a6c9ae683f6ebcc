// Messages to the user: refused connections, save results, server errors.
import { useEffect } from "react";

import { graphStore, useGraph } from "../store/graphStore";

export function Toast() {
  const toast = useGraph((s) => s.toast);
  useEffect(() => {
    if (!toast) return;
    const timer = window.setTimeout(() => graphStore.getState().dismissToast(), toast.kind === "error" ? 8000 : 3500);
    return () => window.clearTimeout(timer);
  }, [toast]);
  if (!toast) return null;
  return (
    <div className={`fm-toast fm-toast-${toast.kind}`} role={toast.kind === "error" ? "alert" : "status"} data-testid="toast" data-kind={toast.kind}>
      <span>{toast.text}</span>
      <button type="button" className="fm-icon-btn" aria-label="Dismiss message" onClick={() => graphStore.getState().dismissToast()}>
        ×
      </button>
    </div>
  );
}
