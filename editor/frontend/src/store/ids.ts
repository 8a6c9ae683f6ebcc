// Readable, unique ids: `delay_2`, `e7`. Users see node ids in templates (`{{users.body}}`),
// so they are short and derived from the type rather than random.

export function nextNodeId(type: string, taken: ReadonlySet<string>): string {
  const base = type.replace(/[^A-Za-z0-9_]/g, "_") || "node";
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base}_${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function nextEdgeId(taken: ReadonlySet<string>): string {
  for (let i = 1; ; i++) {
    const candidate = `e${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function uniqueName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base} ${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}
