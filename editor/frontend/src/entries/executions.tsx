import { createRoot } from "react-dom/client";

import { ExecutionListPage } from "../timeline/ExecutionListPage";
import "../styles/app.css";
import "../timeline/timeline.css";

const root = document.getElementById("root");
if (root) createRoot(root).render(<ExecutionListPage />);
