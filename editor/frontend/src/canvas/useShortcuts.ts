// Keyboard shortcuts of the editor (listed in the help overlay) and JSON copy/paste via
// the system clipboard, so nodes can be pasted into another workflow's tab. A paste lands
// where the pointer is on the canvas (else mid-view): the copied positions belong to the
// other workflow's layout and would drop the nodes on top of this one's.
import { useEffect } from "react";

import type { Position } from "../api/types";
import { CLIPBOARD_KIND, parseFragment } from "../store/clipboard";
import { graphStore, PASTE_OFFSET } from "../store/graphStore";

export interface ShortcutActions {
  save: () => void;
  layout: () => void;
  fitView: () => void;
  toggleHelp: () => void;
  closeDialogs: () => boolean;
  /** Canvas position for the top-left of pasted nodes, from the pointer's screen position
   * over the canvas (null when the pointer is elsewhere). */
  pastePosition: (pointer: Position | null) => Position;
}

export function isEditableTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || !!target.closest(".cm-editor");
}

export function useShortcuts(actions: ShortcutActions): void {
  useEffect(() => {
    let pointer: Position | null = null;
    let lastPaste: { pointer: Position | null; at: Position } | null = null;
    const onPointerMove = (event: PointerEvent) => {
      const overCanvas = event.target instanceof Element && event.target.closest(".react-flow__pane, .react-flow__node, .react-flow__edge");
      pointer = overCanvas ? { x: event.clientX, y: event.clientY } : null;
    };
    const onKeyDown = (event: KeyboardEvent) => {
      const store = graphStore.getState();
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      // Save works everywhere, even while typing in a field.
      if (mod && key === "s") {
        event.preventDefault();
        actions.save();
        return;
      }
      if (event.key === "Escape") {
        if (!actions.closeDialogs()) store.select([], []);
        return;
      }
      if (isEditableTarget(event.target)) return;
      if (mod && key === "z" && !event.shiftKey) {
        event.preventDefault();
        store.undo();
      } else if (mod && ((key === "z" && event.shiftKey) || key === "y")) {
        event.preventDefault();
        store.redo();
      } else if (mod && key === "a") {
        event.preventDefault();
        store.selectAll();
      } else if (mod && key === "d") {
        event.preventDefault();
        store.duplicateSelection();
      } else if (!mod && (event.key === "Delete" || event.key === "Backspace")) {
        event.preventDefault();
        store.deleteSelection();
      } else if (!mod && event.shiftKey && key === "l") {
        event.preventDefault();
        actions.layout();
      } else if (!mod && event.shiftKey && key === "f") {
        event.preventDefault();
        actions.fitView();
      } else if (!mod && !event.shiftKey && key === "g") {
        store.toggleSnap();
      } else if (event.key === "?") {
        actions.toggleHelp();
      }
    };
    const onCopy = (event: ClipboardEvent) => {
      if (isEditableTarget(event.target) || isEditableTarget(document.activeElement)) return;
      const fragment = graphStore.getState().copySelection();
      if (!fragment || !event.clipboardData) return;
      event.clipboardData.setData("text/plain", JSON.stringify(fragment, null, 2));
      event.preventDefault();
      graphStore.getState().notify("info", `Copied ${fragment.nodes.length} node(s) as JSON.`);
    };
    const onPaste = (event: ClipboardEvent) => {
      if (isEditableTarget(event.target) || isEditableTarget(document.activeElement)) return;
      const text = event.clipboardData?.getData("text/plain") ?? "";
      const fragment = parseFragment(text);
      if (!fragment || !fragment.nodes.length) {
        if (text.includes(CLIPBOARD_KIND) || text.trim().startsWith("{")) graphStore.getState().notify("error", "The clipboard holds no FlowMaestro nodes.");
        return;
      }
      event.preventDefault();
      // Pasting again without moving the pointer cascades the copies instead of stacking them.
      const same = lastPaste !== null && lastPaste.pointer?.x === pointer?.x && lastPaste.pointer?.y === pointer?.y;
      const at = same && lastPaste ? { x: lastPaste.at.x + PASTE_OFFSET, y: lastPaste.at.y + PASTE_OFFSET } : actions.pastePosition(pointer);
      lastPaste = { pointer, at };
      const ids = graphStore.getState().paste(fragment, at);
      graphStore.getState().notify("info", `Pasted ${ids.length} node(s).`);
    };
    document.addEventListener("pointermove", onPointerMove, { passive: true });
    document.addEventListener("keydown", onKeyDown);
    document.addEventListener("copy", onCopy);
    document.addEventListener("paste", onPaste);
    return () => {
      document.removeEventListener("pointermove", onPointerMove);
      document.removeEventListener("keydown", onKeyDown);
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("paste", onPaste);
    };
  }, [actions]);
}
