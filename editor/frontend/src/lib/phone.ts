// Whether the window is phone-sized: the width under which editor.css lays the editor out
// for a phone (palette drawer, node sheet). Kept in one place so the two agree.
import { useEffect, useState } from "react";

export const PHONE_QUERY = "(max-width: 599px)";

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
