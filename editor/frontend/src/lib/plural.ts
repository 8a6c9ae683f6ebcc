// Counts in words: "1 error", "2 errors" — never "1 error(s)".
export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The editor's problems line: "1 error", "2 errors, 1 warning", "3 warnings" (a zero part is left out). */
export function issuesSummary(errors: number, warnings: number): string {
  const parts = [errors ? plural(errors, "error") : "", warnings ? plural(warnings, "warning") : ""].filter(Boolean);
  return parts.join(", ") || "No problems found";
}
