import { createRoot } from "react-dom/client";

import { WorkflowListPage } from "../pages/WorkflowListPage";
import "../styles/app.css";

const root = document.getElementById("root");
if (root) createRoot(root).render(<WorkflowListPage />);
