import { afterEach, describe, expect, it, vi } from "vitest";

import type { WorkflowDefinition } from "../api/types";
import { createGraphStore, TYPING_BURST_MS } from "./graphStore";

function seed(): WorkflowDefinition {
  return {
    schemaVersion: 1,
    name: "Undo",
    settings: {},
    nodes: [
      { id: "start", type: "start", name: "Start", position: { x: 0, y: 0 }, config: {} },
      { id: "wait", type: "delay", name: "Wait", position: { x: 250, y: 0 }, config: { duration: 100 } },
    ],
    edges: [{ id: "e1", source: "start", target: "wait" }],
  };
}

const duration = (store: ReturnType<typeof createGraphStore>) => store.getState().definition.nodes[1]?.config.duration;

describe("undo after typing", () => {
  afterEach(() => vi.restoreAllMocks());

  it("takes back a burst of edits of one field in one step, and each field or pause on its own", () => {
    let now = 1_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => now);
    const store = createGraphStore(seed());
    const type = (value: number | string) => {
      now += 100;
      store.getState().updateNode("wait", { config: { duration: value } });
    };
    type(2);
    type(25);
    type(250);
    now += TYPING_BURST_MS + 1; // a pause: the next edit is a new step
    type(2500);
    now += 100;
    store.getState().updateNode("wait", { name: "Wait longer" }); // another field: a new step
    expect(store.getState().past).toHaveLength(3);

    store.getState().undo();
    expect(store.getState().definition.nodes[1]?.name).toBe("Wait");
    expect(duration(store)).toBe(2500);
    store.getState().undo();
    expect(duration(store)).toBe(250);
    store.getState().undo();
    expect(duration(store)).toBe(100);
    expect(store.getState().past).toHaveLength(0);
  });

  it("starts a new step after an undo even within the burst", () => {
    let now = 1_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => now);
    const store = createGraphStore(seed());
    store.getState().setWorkflowName("Undo 1");
    now += 100;
    store.getState().undo();
    now += 100;
    store.getState().setWorkflowName("Undo 2");
    now += 100;
    store.getState().setWorkflowName("Undo 23");
    store.getState().undo();
    expect(store.getState().definition.name).toBe("Undo");
  });
});
