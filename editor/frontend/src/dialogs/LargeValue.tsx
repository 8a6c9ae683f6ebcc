// A value the API cut because it is large (lib/largeValue): its size and links to open it
// whole in a new tab or save it, instead of megabytes of JSON in the page.
import { downloadUrl, sizeText, type TruncatedValue } from "../lib/largeValue";

export function LargeValue({ value, testId }: { value: TruncatedValue; testId?: string }) {
  const save = value.url ? downloadUrl(value.url) : null;
  return (
    <span className="fm-large-value" data-testid={testId ?? "large-value"} data-size={value.size}>
      large value ({sizeText(value.size)})
      {value.url ? (
        <>
          {" — "}
          <a href={value.url} target="_blank" rel="noopener" data-testid="large-value-open">open</a>
          {save ? (
            <>
              {" / "}
              <a href={save} download data-testid="large-value-download">download</a>
            </>
          ) : null}
        </>
      ) : null}
    </span>
  );
}
