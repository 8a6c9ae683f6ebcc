// `/dead-letters/`: entries that failed after their retries or timed out in a queue (SPEC
// §4.5). Until the queue API is served this page says so rather than showing an empty list.
import { useEffect, useState } from "react";

import { api, ApiError, errorMessage } from "../api/client";

interface DeadLetter {
  id: number | string;
  [key: string]: unknown;
}

export function DeadLettersPage() {
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api
      .get<DeadLetter[] | { results: DeadLetter[] }>("/api/dead-letters")
      .then((body) => setLetters(Array.isArray(body) ? body : body.results))
      .catch((err: unknown) => {
        if (err instanceof ApiError && (err.status === 404 || err.status === 501)) setUnavailable(true);
        else setError(errorMessage(err));
      });
  }, []);

  return (
    <div className="fm-list-page" data-testid="dead-letters-page">
      <div className="fm-list-head"><h1>Dead letters</h1></div>
      <p className="fm-muted">
        Runs and loop items that failed after all their retries, or waited in a queue past its timeout, are kept here when
        the queue has <code>deadLetterQueue: true</code>.
      </p>
      {unavailable ? <p className="fm-banner" data-testid="dead-letters-placeholder">The dead-letter queue is not available on this server yet.</p> : null}
      {error ? <p className="fm-banner fm-banner-error" role="alert">{error}</p> : null}
      {letters && letters.length === 0 ? <p className="fm-muted">No dead letters.</p> : null}
      {letters && letters.length ? (
        <table className="fm-table">
          <thead><tr><th>Id</th><th>Entry</th></tr></thead>
          <tbody>
            {letters.map((letter) => (
              <tr key={String(letter.id)}><td>{String(letter.id)}</td><td><code>{JSON.stringify(letter).slice(0, 200)}</code></td></tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
