// How long this workflow's finished runs are kept. Empty fields follow the server's
// defaults; 0 keeps them for good. Runs with an open dead letter are always kept.
import { useEffect, useRef, useState } from "react";
import { api, errorMessage } from "../api/client";

interface Retention {
  days: number | null;
  keepLast: number | null;
  defaultDays: number;
  defaultKeepLast: number;
}

function parse(text: string): number | null {
  return text.trim() === "" ? null : Number(text);
}

export function RetentionPanel({ workflowId }: { workflowId: string }) {
  const url = `/api/workflows/${workflowId}/retention`;
  const [saved, setSaved] = useState<Retention | null>(null);
  const [days, setDays] = useState("");
  const [keepLast, setKeepLast] = useState("");
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  // The fields stay disabled until the stored values are in: typed earlier, a value was
  // overwritten by the answer (and saved empty) when the answer came late.
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    setLoading(true);
    let stopped = false; // another workflow's answer, come back late, is not this one's
    api.get<Retention>(url).then(
      (r) => {
        if (stopped) return;
        setSaved(r);
        setDays(r.days === null ? "" : String(r.days));
        setKeepLast(r.keepLast === null ? "" : String(r.keepLast));
        setLoading(false);
      },
      (err) => {
        if (stopped) return;
        setMessage({ text: errorMessage(err), error: true });
        setLoading(false);
      },
    );
    return () => {
      stopped = true;
    };
  }, [url]);

  const daysInput = useRef<HTMLInputElement>(null);
  const keepLastInput = useRef<HTMLInputElement>(null);

  const save = async () => {
    // What the browser cannot read as a number ("1e", "--") reaches us as "", which means
    // "the server's default": saved like that, a typo silently became a different setting.
    const unreadable = [[daysInput, "Keep for (days)"], [keepLastInput, "Keep the last (runs)"]] as const;
    const bad = unreadable.find(([input]) => input.current?.validity.badInput);
    if (bad) {
      setMessage({ text: `${bad[1]} is not a number: write a whole number, or leave it empty for the server's default.`, error: true });
      return;
    }
    try {
      const r = await api.put<Retention>(url, { days: parse(days), keepLast: parse(keepLast) });
      setSaved(r);
      setMessage({ text: "Retention saved.", error: false });
    } catch (err) {
      setMessage({ text: errorMessage(err), error: true });
    }
  };

  return (
    <section className="fm-triggers" data-testid="retention-panel" aria-labelledby="retention-heading">
      <h3 id="retention-heading">Retention</h3>
      <p className="fm-muted">
        Finished runs are removed after a number of days or beyond the newest N. Empty follows the server
        {saved ? ` (${saved.defaultDays ? `${saved.defaultDays} days` : "forever"}${saved.defaultKeepLast ? `, last ${saved.defaultKeepLast}` : ""})` : ""}; 0 keeps them.
      </p>
      <div className="fm-trigger-grid">
        <label htmlFor="retention-days">Keep for (days)</label>
        <input id="retention-days" ref={daysInput} type="number" min={0} value={days} onChange={(e) => setDays(e.target.value)} disabled={loading} data-testid="retention-days" />
        <label htmlFor="retention-keep-last">Keep the last (runs)</label>
        <input id="retention-keep-last" ref={keepLastInput} type="number" min={0} value={keepLast} onChange={(e) => setKeepLast(e.target.value)} disabled={loading} data-testid="retention-keep-last" />
        <button type="button" onClick={() => void save()} disabled={loading} data-testid="retention-save">
          Save retention
        </button>
      </div>
      {message && (
        <p className={message.error ? "fm-error" : "fm-muted"} role={message.error ? "alert" : "status"} data-testid="retention-message">
          {message.text}
        </p>
      )}
    </section>
  );
}
