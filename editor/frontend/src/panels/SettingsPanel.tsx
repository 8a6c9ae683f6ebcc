// Workflow settings (SPEC §3 `settings`): concurrency, timeout, queue, the default parallel
// policy, signal handlers and variables, rendered by the same schema form as node configs.
import type { WorkflowSettings } from "../api/types";
import { SchemaForm } from "../forms/SchemaForm";
import { commonProperties, settingsSchema } from "../lib/panelSchemas";
import { graphStore, useGraph } from "../store/graphStore";
import { RetentionPanel } from "./RetentionPanel";
import { TriggersPanel } from "./TriggersPanel";

export function SettingsPanel({ workflowId }: { workflowId?: string }) {
  const settings = useGraph((s) => s.definition.settings);
  const name = useGraph((s) => s.definition.name);
  const nodeTypes = useGraph((s) => s.nodeTypes);
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
        schema={settingsSchema(commonProperties(nodeTypes))}
        idPrefix="settings."
        value={settings as Record<string, unknown>}
        onChange={(value) => updateSettings(value as WorkflowSettings)}
      />
      {workflowId && <TriggersPanel workflowId={workflowId} />}
      {workflowId && <RetentionPanel workflowId={workflowId} />}
    </div>
  );
}
