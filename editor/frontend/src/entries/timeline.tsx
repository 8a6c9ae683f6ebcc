import { createRoot } from "react-dom/client";

import { TimelinePage } from "../timeline/TimelinePage";
import "@xyflow/react/dist/style.css";
import "../styles/app.css";
import "../timeline/timeline.css";

const root = document.getElementById("root");
const executionId = root?.dataset.executionId;
if (root && executionId) createRoot(root).render(<TimelinePage executionId={executionId} />);
