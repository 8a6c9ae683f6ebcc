"""axe-core in the page: the accessibility rules (contrast, names, roles, landmarks) that a
screen-reader or low-vision user runs into. The engine comes from the npm package
(node_modules/axe-core, a dev dependency) and is injected into the page under test."""

from __future__ import annotations

from typing import Any

from tests.browser.helpers import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_violations(page: Any, *, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """axe's violations on the page as it stands (WCAG 2.x A and AA rules and best practices)."""
    assert AXE.exists(), f"{AXE} is missing: run npm ci"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, not as a <script> tag: the pages' CSP
        # (script-src 'self') refuses inline scripts, as it should.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found: list[dict[str, Any]] = page.evaluate(
        """async (exclude) => {
          const context = exclude.length ? { exclude: exclude.map((s) => [s]) } : document;
          const result = await window.axe.run(context, { resultTypes: ["violations"] });
          return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
          }));
        }""",
        list(exclude),
    )
    return found


def assert_accessible(page: Any, where: str, *, exclude: tuple[str, ...] = ()) -> None:
    """No serious or critical axe violation on the page."""
    blocking = [v for v in axe_violations(page, exclude=exclude) if v["impact"] in BLOCKING]
    details = "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']}\n" + "\n".join(f"    {n['target']}: {n['summary']}" for n in v["nodes"])
        for v in blocking
    )
    assert not blocking, f"axe on {where}:\n{details}"
