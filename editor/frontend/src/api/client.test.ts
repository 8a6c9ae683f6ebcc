import { describe, expect, it } from "vitest";

import { ApiError } from "./client";

// "Run refused: Invalid workflow definition: config.url: is required (it is empty)" did not
// say which node; the API's errors carry the node id.
describe("ApiError.userMessage", () => {
  const error = new ApiError(400, "Invalid workflow definition.", [
    { message: "config.url: is required (it is empty)", nodeId: "http" },
    { message: "creates a cycle", edgeId: "e4" },
    { message: "the workflow has no start node" },
  ], null);

  it("names the node (by its name when known) and the connection of each problem", () => {
    expect(error.userMessage((id) => (id === "http" ? "Fetch orders" : undefined))).toBe(
      "Invalid workflow definition: Fetch orders: url: is required (it is empty); connection e4: creates a cycle; the workflow has no start node",
    );
  });

  it("falls back to the node id", () => {
    expect(error.userMessage()).toContain("http: url: is required");
  });
});
