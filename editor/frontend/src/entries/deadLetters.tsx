import { createRoot } from "react-dom/client";

import { DeadLettersPage } from "../timeline/DeadLettersPage";
import "../styles/app.css";
import "../timeline/timeline.css";

const root = document.getElementById("root");
if (root) createRoot(root).render(<DeadLettersPage />);
