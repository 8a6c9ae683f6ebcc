// Whether the window is phone-sized: the size under which editor.css lays the editor out
// for a phone (palette drawer, node sheet): under 600 px wide, or under 481 px tall (a phone
// held sideways, 640×360 to 740×360). Kept in one place so the two agree.
import { useEffect, useState } from "react";

export const PHONE_QUERY = "(max-width: 599px), (max-height: 480px)";

function matches(): boolean {
  return typeof window !== "undefined" && typeof window.matchMedia === "function" && window.matchMedia(PHONE_QUERY).matches;
}

/** True while the window is phone-sized; follows a resize or a rotated phone. */
export function usePhone(): boolean {
  const [phone, setPhone] = useState(matches);
  useEffect(() => {
    if (typeof window.matchMedia !== "function") return;
    const query = window.matchMedia(PHONE_QUERY);
    const update = () => setPhone(query.matches);
    update();
    query.addEventListener("change", update);
    return () => query.removeEventListener("change", update);
  }, []);
  return phone;
}
