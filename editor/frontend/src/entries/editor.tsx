import { createRoot } from "react-dom/client";

import { EditorPage } from "../pages/EditorPage";
import "@xyflow/react/dist/style.css";
import "../styles/app.css";
import "../styles/editor.css";

const root = document.getElementById("root");
if (root) {
  const workflowId = root.dataset.workflowId ?? "";
  createRoot(root).render(<EditorPage workflowId={workflowId} newName={root.dataset.newName || "Untitled workflow"} />);
}
