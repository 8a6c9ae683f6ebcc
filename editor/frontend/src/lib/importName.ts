// The name an imported workflow gets: its own, or "<name> (imported)", "(imported 2)", … when
// a workflow of the user's already has it (two identical names in the list read as one).

/** A name none of `taken` has (compared trimmed, case-insensitively, as the eye reads the list). */
export function importName(name: string, taken: readonly string[]): string {
  const used = new Set(taken.map((t) => t.trim().toLowerCase()));
  if (!used.has(name.trim().toLowerCase())) return name;
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? `${name} (imported)` : `${name} (imported ${n})`;
    if (!used.has(candidate.toLowerCase())) return candidate;
  }
}

/** Where the list page leaves a message for the editor it opens (the import's outcome). */
export const EDITOR_NOTICE_KEY = "fm-editor-notice";
