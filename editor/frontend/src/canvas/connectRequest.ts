// How a focused handle asks the canvas for the connect dialog (Enter or Space on it): the
// nodes are rendered by React Flow inside the canvas, so a context reaches them.
import { createContext, type KeyboardEvent, useContext } from "react";

export interface ConnectRequest {
  nodeId: string;
  /** The output the wire leaves from (a source handle), or null for a node's input. */
  handle: string | null;
  /** True from an input handle: the dialog picks the node the wire comes from. */
  into: boolean;
}

export const ConnectRequestContext = createContext<((request: ConnectRequest) => void) | null>(null);

/** Props that make a React Flow handle a keyboard control: in the tab order, named by its
 * node and handle, and Enter or Space opens the connect dialog from it. */
export function useHandleKeyboard(request: ConnectRequest, label: string) {
  const open = useContext(ConnectRequestContext);
  return {
    tabIndex: 0,
    role: "button",
    "aria-label": label,
    "aria-haspopup": "dialog" as const,
    onKeyDown: (e: KeyboardEvent<HTMLDivElement>) => {
      if (e.key !== "Enter" && e.key !== " ") return;
      // Not the node's own Enter (select it): the handle is what the user is on.
      e.preventDefault();
      e.stopPropagation();
      open?.(request);
    },
  };
}
