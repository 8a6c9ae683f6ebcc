// A help text with its `code` spans shown as code (see lib/inlineCode.ts).
import { inlineCodeParts } from "../lib/inlineCode";

export function HelpText({ text }: { text: string }) {
  return (
    <>
      {inlineCodeParts(text).map((part, i) => (part.code ? <code key={i}>{part.text}</code> : part.text))}
    </>
  );
}
