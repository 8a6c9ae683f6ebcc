// The canvas's mini map and zoom controls. On a small canvas (a 1024×700 window leaves it
// about 550×540) the full-size map (200×150) covered a tenth of it, over the nodes: below
// COMPACT_BELOW it is drawn smaller, and a control hides or shows it (remembered).
import { ControlButton, Controls, MiniMap } from "@xyflow/react";
import { type RefObject, useEffect, useState } from "react";

const COMPACT_BELOW = { width: 800, height: 600 };
const FULL = { width: 200, height: 150 };
const COMPACT = { width: 120, height: 84 };
const STORAGE_KEY = "fm.minimap";

function remembered(): boolean {
  try {
    return window.localStorage.getItem(STORAGE_KEY) !== "hidden";
  } catch {
    return true; // storage refused (private mode): shown, as by default
  }
}

function remember(shown: boolean): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, shown ? "shown" : "hidden");
  } catch {
    // not remembered; the choice still holds for this page
  }
}

export function MapAndControls({ paneRef }: { paneRef: RefObject<HTMLDivElement | null> }) {
  const [compact, setCompact] = useState(false);
  const [shown, setShown] = useState(remembered);

  useEffect(() => {
    const pane = paneRef.current;
    if (!pane || typeof ResizeObserver === "undefined") return;
    const measure = () => {
      const { width, height } = pane.getBoundingClientRect();
      setCompact(width < COMPACT_BELOW.width || height < COMPACT_BELOW.height);
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(pane);
    return () => observer.disconnect();
  }, [paneRef]);

  const toggle = () => {
    remember(!shown);
    setShown(!shown);
  };

  return (
    <>
      {shown ? <MiniMap pannable zoomable ariaLabel="Mini map" nodeStrokeWidth={2} data-testid="minimap" style={compact ? COMPACT : FULL} /> : null}
      <Controls showInteractive={false} aria-label="Zoom controls">
        <ControlButton onClick={toggle} title={shown ? "Hide the mini map" : "Show the mini map"}
                       aria-label={shown ? "Hide the mini map" : "Show the mini map"} aria-pressed={shown} data-testid="minimap-toggle">
          ▦
        </ControlButton>
      </Controls>
    </>
  );
}
