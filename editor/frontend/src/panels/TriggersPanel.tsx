// Triggers of a saved workflow: webhooks (a URL that starts a run with the request body as
// input) and cron schedules in a time zone. Both live on the server, not in the definition,
// so they change without a new version and are listed in the admin too.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, errorMessage } from "../api/client";
import { Latest } from "../lib/latest";

export interface Webhook {
  id: number;
  name: string;
  url: string;
  auth: "token" | "hmac";
  hmacSecret: string | null;
  // How the sender of an hmac webhook signs a call (README "Signing HMAC webhook calls").
  signatureHeader: string;
  timestampHeader: string;
  signedPayload: string | null;
  toleranceSeconds: number;
  requireTimestamp: boolean;
  enabled: boolean;
  calls: number;
  lastCalledAt: string | null;
}

export interface Schedule {
  id: number;
  name: string;
  cron: string;
  timezone: string;
  input: unknown;
  enabled: boolean;
  catchUp: "skip" | "latest" | "all";
  nextRunAt: string | null;
  upcoming: string[];
  lastRunAt: string | null;
  lastExecutionId: number | null;
  lastError: string | null;
}

const CATCH_UP_HELP: Record<Schedule["catchUp"], string> = {
  latest: "one run for everything missed while the server was down",
  skip: "skip what was missed; wait for the next time",
  all: "one run per missed time (at most 10)",
};

function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

// What the sender of an hmac webhook sends, so a user can write it; and whether the webhook
// insists on the signed timestamp that makes a captured call useless to replay.
function HowToSign({ webhook: w, onRequireTimestamp }: { webhook: Webhook; onRequireTimestamp: (on: boolean) => void }) {
  return (
    <div className="fm-trigger-signing" data-testid="webhook-signing">
      <p className="fm-muted">
        Send <code>{w.timestampHeader}: &lt;Unix time in seconds&gt;</code> and <code>{w.signatureHeader}: sha256=&lt;hex HMAC-SHA256&gt;</code> of{" "}
        <code data-testid="webhook-signed-payload">{w.signedPayload}</code>, made with the secret.
      </p>
      <label>
        <input
          type="checkbox"
          checked={w.requireTimestamp}
          onChange={(e) => onRequireTimestamp(e.target.checked)}
          data-testid="webhook-require-timestamp"
        />{" "}
        Require a signed timestamp
      </label>
      <p className="fm-muted">
        {w.requireTimestamp
          ? `Refuses calls more than ${w.toleranceSeconds} s old or ahead, and the same signed call twice, so a captured request cannot start runs again.`
          : "Off: a signature of the body alone is also accepted, and anyone who captured one signed call can replay it. Turn on once the sender sends the timestamp."}
      </p>
    </div>
  );
}

export function TriggersPanel({ workflowId }: { workflowId: string }) {
  const base = `/api/workflows/${workflowId}`;
  const [webhooks, setWebhooks] = useState<Webhook[]>([]);
  const [schedules, setSchedules] = useState<Schedule[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [auth, setAuth] = useState<"token" | "hmac">("token");
  const [cron, setCron] = useState("*/15 * * * *");
  const [zone, setZone] = useState(localZone());
  const [catchUp, setCatchUp] = useState<Schedule["catchUp"]>("latest");
  const [input, setInput] = useState("{}");

  // Two actions in quick succession reload twice; the first reload's answer can come last.
  const reloads = useRef(new Latest());
  const reload = useCallback(async () => {
    const current = reloads.current.take();
    try {
      const [w, s] = await Promise.all([
        api.get<{ results: Webhook[] }>(`${base}/webhooks`),
        api.get<{ results: Schedule[] }>(`${base}/schedules`),
      ]);
      if (!current()) return;
      setWebhooks(w.results);
      setSchedules(s.results);
    } catch (err) {
      if (current()) setError(errorMessage(err));
    }
  }, [base]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      await reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  const addSchedule = () =>
    act(async () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(input || "{}");
      } catch (err) {
        throw new Error(`Run input is not JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      await api.post(`${base}/schedules`, { cron, timezone: zone, catchUp, input: parsed });
    });

  return (
    <section className="fm-triggers" data-testid="triggers-panel" aria-labelledby="triggers-heading">
      <h3 id="triggers-heading">Triggers</h3>
      {error && (
        <p className="fm-error" role="alert" data-testid="triggers-error">
          {error}
        </p>
      )}

      <h4>Webhooks</h4>
      <p className="fm-muted">A POST to the URL starts a run with the JSON body as its input; add <code>?wait=30</code> to get the result in the answer.</p>
      <ul className="fm-trigger-list" data-testid="webhook-list">
        {webhooks.map((w) => (
          <li key={w.id} data-testid="webhook-item">
            <input className="fm-mono" readOnly value={w.url} aria-label="Webhook URL" data-testid="webhook-url" onFocus={(e) => e.currentTarget.select()} />
            <div className="fm-trigger-meta">
              {w.auth === "hmac" ? (
                <span>
                  HMAC secret <code data-testid="webhook-secret">{w.hmacSecret}</code>
                </span>
              ) : (
                <span>secret URL</span>
              )}
              <span data-testid="webhook-calls">{w.calls} call{w.calls === 1 ? "" : "s"}</span>
              <span>last {when(w.lastCalledAt)}</span>
            </div>
            {w.auth === "hmac" && (
              <HowToSign webhook={w} onRequireTimestamp={(on) => act(() => api.patch(`${base}/webhooks/${w.id}`, { requireTimestamp: on }))} />
            )}
            <div className="fm-trigger-actions">
              <button type="button" className="fm-small-btn" onClick={() => void navigator.clipboard?.writeText(w.url)}>
                Copy URL
              </button>
              <button type="button" className="fm-small-btn" onClick={() => act(() => api.patch(`${base}/webhooks/${w.id}`, { enabled: !w.enabled }))}>
                {w.enabled ? "Disable" : "Enable"}
              </button>
              <button type="button" className="fm-small-btn" title="Retire this URL and make a new one" onClick={() => act(() => api.patch(`${base}/webhooks/${w.id}`, { rotate: true }))}>
                New URL
              </button>
              <button type="button" className="fm-small-btn" onClick={() => act(() => api.delete(`${base}/webhooks/${w.id}`))}>
                Delete
              </button>
            </div>
          </li>
        ))}
      </ul>
      <div className="fm-trigger-add">
        <label>
          Check{" "}
          <select value={auth} onChange={(e) => setAuth(e.target.value as "token" | "hmac")} data-testid="webhook-auth">
            <option value="token">secret URL</option>
            <option value="hmac">secret URL + HMAC signature</option>
          </select>
        </label>
        <button type="button" data-testid="add-webhook" onClick={() => act(() => api.post(`${base}/webhooks`, { auth }))}>
          Add webhook
        </button>
        {auth === "hmac" && (
          <p className="fm-muted">The sender signs each call with the secret and the time it is sent; a replayed call is refused.</p>
        )}
      </div>

      <h4>Schedules</h4>
      <ul className="fm-trigger-list" data-testid="schedule-list">
        {schedules.map((s) => (
          <li key={s.id} data-testid="schedule-item">
            <div>
              <code>{s.cron}</code> in {s.timezone} {s.enabled ? "" : <strong>(disabled)</strong>}
            </div>
            <div className="fm-trigger-meta">
              <span data-testid="schedule-next">next {when(s.nextRunAt)}</span>
              <span>missed runs: {s.catchUp}</span>
              {s.lastExecutionId !== null && (
                <a href={`/executions/${s.lastExecutionId}/`} data-testid="schedule-last-run">
                  last run #{s.lastExecutionId}
                </a>
              )}
            </div>
            {s.lastError && <p className="fm-error">{s.lastError}</p>}
            <div className="fm-trigger-actions">
              <button type="button" className="fm-small-btn" onClick={() => act(() => api.patch(`${base}/schedules/${s.id}`, { enabled: !s.enabled }))}>
                {s.enabled ? "Disable" : "Enable"}
              </button>
              <button type="button" className="fm-small-btn" onClick={() => act(() => api.delete(`${base}/schedules/${s.id}`))}>
                Delete
              </button>
            </div>
          </li>
        ))}
      </ul>
      <div className="fm-trigger-add fm-trigger-grid">
        <label htmlFor="schedule-cron">Cron (minute hour day month weekday)</label>
        <input id="schedule-cron" className="fm-mono" value={cron} onChange={(e) => setCron(e.target.value)} data-testid="schedule-cron" />
        <label htmlFor="schedule-zone">Time zone</label>
        <input id="schedule-zone" value={zone} onChange={(e) => setZone(e.target.value)} data-testid="schedule-zone" />
        <label htmlFor="schedule-catch-up">Missed while down</label>
        <select id="schedule-catch-up" value={catchUp} onChange={(e) => setCatchUp(e.target.value as Schedule["catchUp"])} data-testid="schedule-catch-up">
          {(Object.keys(CATCH_UP_HELP) as Schedule["catchUp"][]).map((k) => (
            <option key={k} value={k}>
              {k}: {CATCH_UP_HELP[k]}
            </option>
          ))}
        </select>
        <label htmlFor="schedule-input">Run input (JSON)</label>
        <textarea id="schedule-input" className="fm-mono" rows={2} value={input} onChange={(e) => setInput(e.target.value)} data-testid="schedule-input" />
        <button type="button" data-testid="add-schedule" onClick={() => void addSchedule()}>
          Add schedule
        </button>
      </div>
    </section>
  );
}
