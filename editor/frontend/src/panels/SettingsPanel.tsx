// Workflow settings (SPEC §3 `settings`): concurrency, timeout, queue, signal handlers and
// variables, rendered by the same schema form as node configs.
import type { JsonSchema, WorkflowSettings } from "../api/types";
import { SchemaForm } from "../forms/SchemaForm";
import { graphStore, useGraph } from "../store/graphStore";
import { RetentionPanel } from "./RetentionPanel";
import { TriggersPanel } from "./TriggersPanel";

export const SETTINGS_SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    maxConcurrency: { type: "integer", minimum: 1, description: "Most node runs of one execution in flight at once." },
    timeout: { type: "integer", minimum: 1, description: "ms before the whole execution times out." },
    queue: {
      type: "object",
      title: "Run queue",
      description: "How runs of this workflow wait for a slot.",
      properties: {
        maxConcurrentRuns: { type: "integer", minimum: 1, description: "Executions of this workflow running at once; the rest wait." },
        maxSize: { type: "integer", minimum: 1, description: "Runs beyond it are refused (HTTP 429)." },
        priority: { type: "string", enum: ["fifo", "lifo", "priority"], default: "fifo" },
        timeout: { type: "integer", minimum: 1, description: "ms a run may wait in the queue before it fails." },
        deadLetterQueue: { type: "boolean", default: false, description: "Keep failed and timed-out runs as dead letters to replay." },
      },
    },
    signalHandlers: {
      type: "object",
      title: "Signal handlers",
      description:
        'By signal type: {"action": "pause"|"resume"|"cancel"|"custom", "cleanup"?, "rollback"?, "notify"?: [emails], "handler"?: node id}. Example: {"pause": {"action": "pause", "cleanup": true}}',
      additionalProperties: { type: "object" },
    },
    variables: {
      type: "object",
      title: "Variables",
      description: "Available to templates as {{variables.NAME}}. Example: {\"apiBase\": \"http://127.0.0.1:8000/demo-api\"}",
      additionalProperties: true,
    },
  },
};

export function SettingsPanel({ workflowId }: { workflowId?: string }) {
  const settings = useGraph((s) => s.definition.settings);
  const name = useGraph((s) => s.definition.name);
  const { updateSettings, setWorkflowName } = graphStore.getState();
  return (
    <div className="fm-panel-body" data-testid="settings-panel">
      <header className="fm-panel-head">
        <h2>Workflow settings</h2>
      </header>
      <div className="fm-field">
        <label className="fm-label" htmlFor="workflow-name-input">
          <code>name</code>
        </label>
        <input id="workflow-name-input" data-testid="workflow-name-input" type="text" value={name} onChange={(e) => setWorkflowName(e.target.value)} />
      </div>
      <SchemaForm
        schema={SETTINGS_SCHEMA}
        idPrefix="settings."
        value={settings as Record<string, unknown>}
        onChange={(value) => updateSettings(value as WorkflowSettings)}
      />
      {workflowId && <TriggersPanel workflowId={workflowId} />}
      {workflowId && <RetentionPanel workflowId={workflowId} />}
    </div>
  );
}
