// Node types describe their options in the docs' markdown: `duration`, `{{input.waitMs}}`.
// The editor showed the backticks as typed; these parts let it show code as code.

export type TextPart = { code: boolean; text: string };

/** `text` split at backtick pairs; an unpaired backtick stays plain text. */
export function inlineCodeParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  const pattern = /`([^`]+)`/g;
  let last = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    if (match.index > last) parts.push({ code: false, text: text.slice(last, match.index) });
    parts.push({ code: true, text: match[1] ?? "" });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push({ code: false, text: text.slice(last) });
  return parts;
}
