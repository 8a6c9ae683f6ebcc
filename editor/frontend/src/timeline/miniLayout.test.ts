import { describe, expect, it } from "vitest";

import type { WorkflowNode } from "../api/types";
import { LOOP_MIN_HEIGHT, LOOP_MIN_WIDTH, NODE_HEIGHT, NODE_WIDTH } from "../canvas/geometry";
import { type MiniBox, miniCanvasBoxes } from "./miniLayout";

const node = (id: string, type: string, x: number, y: number, parentId?: string): WorkflowNode => ({
  id, type, name: id, position: { x, y }, config: {}, ...(parentId ? { parentId } : {}),
});

function inside(inner: MiniBox, outer: MiniBox): boolean {
  return inner.x > outer.x && inner.y > outer.y && inner.x + inner.width < outer.x + outer.width
    && inner.y + inner.height < outer.y + outer.height;
}

describe("miniCanvasBoxes", () => {
  it("draws a loop body node at its loop's position plus its own (SPEC §3 relative positions)", () => {
    const boxes = miniCanvasBoxes([
      node("start", "start", 0, 0),
      node("loop", "loop", 500, 100),
      node("enrich", "http", 40, 60, "loop"),
    ]);
    expect(boxes.get("start")).toMatchObject({ x: 0, y: 0, width: NODE_WIDTH, height: NODE_HEIGHT, depth: 0 });
    expect(boxes.get("enrich")).toMatchObject({ x: 540, y: 160, depth: 1, container: false });
    const loop = boxes.get("loop") as MiniBox;
    expect(loop).toMatchObject({ x: 500, y: 100, width: LOOP_MIN_WIDTH, height: LOOP_MIN_HEIGHT, container: true });
    expect(inside(boxes.get("enrich") as MiniBox, loop)).toBe(true);
  });

  it("adds up the positions of nested loops, and each loop grows to hold its body", () => {
    // Listed child-first on purpose: the order of `nodes` must not matter.
    const boxes = miniCanvasBoxes([
      node("step", "delay", 30, 70, "inner"),
      node("inner", "loop", 40, 60, "outer"),
      node("outer", "loop", 300, 200),
    ]);
    const outer = boxes.get("outer") as MiniBox;
    const inner = boxes.get("inner") as MiniBox;
    const step = boxes.get("step") as MiniBox;
    expect([inner.x, inner.y, inner.depth]).toEqual([340, 260, 1]);
    expect([step.x, step.y, step.depth]).toEqual([370, 330, 2]);
    expect(inside(step, inner)).toBe(true);
    expect(inside(inner, outer)).toBe(true);
  });

  it("keeps a loop large enough for a body node placed far inside it", () => {
    const boxes = miniCanvasBoxes([node("loop", "loop", 0, 0), node("far", "delay", 600, 400, "loop")]);
    const loop = boxes.get("loop") as MiniBox;
    expect(loop.width).toBeGreaterThanOrEqual(600 + NODE_WIDTH);
    expect(loop.height).toBeGreaterThanOrEqual(400 + NODE_HEIGHT);
    expect(inside(boxes.get("far") as MiniBox, loop)).toBe(true);
  });

  it("draws a node whose loop is missing, or whose parents form a cycle, without hanging", () => {
    const boxes = miniCanvasBoxes([
      node("orphan", "delay", 10, 20, "gone"),
      node("a", "loop", 5, 5, "b"),
      node("b", "loop", 7, 7, "a"),
    ]);
    expect(boxes.get("orphan")).toMatchObject({ x: 10, y: 20, depth: 0 });
    expect(boxes.size).toBe(3);
  });
});
