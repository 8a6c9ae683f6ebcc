"""What the editor costs to open, and how its files are served (issue 16, "weight").

- The editor's first load (its entry and every chunk it imports statically, from Vite's
  manifest) stays under 800 KB of JavaScript before compression; elkjs (auto-layout) and
  CodeMirror (code fields) are loaded when first used.
- In Chromium: opening the editor fetches no elkjs; pressing Auto-layout fetches it then.
- Hashed assets are sent brotli- or gzip-compressed and cached for a year as `immutable`;
  pages are not.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.fixtures import MANIFEST
from tests.browser.helpers import ROOT, api_post

DIST = ROOT / "static" / "dist"
FIRST_LOAD_BUDGET = 800 * 1024


def first_load(manifest: dict[str, Any], entry: str) -> list[str]:
    """Files of `entry` and of every chunk it imports statically (what the page must fetch)."""
    seen: list[str] = []
    stack = [entry]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.append(key)
        stack.extend(manifest[key].get("imports", []))
    return [manifest[key]["file"] for key in seen]


def editor_entry(manifest: dict[str, Any]) -> str:
    return next(key for key, chunk in manifest.items() if chunk.get("isEntry") and chunk.get("name") == "editor")


def test_editor_first_load_is_under_800_kb_and_leaves_elk_and_codemirror_for_later(frontend_built: Path):
    manifest = json.loads(MANIFEST.read_text())
    files = first_load(manifest, editor_entry(manifest))
    size = sum((DIST / f).stat().st_size for f in files if f.endswith(".js"))
    assert size < FIRST_LOAD_BUDGET, f"editor first load is {size / 1024:.0f} KB of JavaScript: {files}"
    lazy = [chunk["file"] for chunk in manifest.values() if chunk.get("isDynamicEntry")]
    assert any("elk" in f for f in lazy), f"elkjs is not a chunk of its own: {lazy}"
    assert any("CodeField" in f for f in lazy), f"CodeMirror is not a chunk of its own: {lazy}"
    assert not any("elk" in f or "CodeField" in f for f in files)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_editor_fetches_elk_only_when_auto_layout_is_pressed(logged_in_page: Any, page_errors: Any):
    page = logged_in_page
    definition = {
        "schemaVersion": 1, "name": "Light", "settings": {},
        "nodes": [{"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
                  {"id": "log", "type": "log", "name": "Log", "position": {"x": 40, "y": 300},
                   "config": {"message": "hi"}}],
        "edges": [{"id": "e1", "source": "start", "target": "log"}],
    }
    workflow = api_post(page, "/api/workflows", {"name": "Light", "definition": definition})
    scripts: list[tuple[str, int]] = []
    page.on("response", lambda r: scripts.append((r.url, len(r.body()))) if r.url.endswith(".js") else None)
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node")
    page.wait_for_load_state("networkidle")
    loaded = sum(size for _, size in scripts)
    assert not [u for u, _ in scripts if "elk" in u], "elkjs was fetched before anyone asked for a layout"
    assert loaded < FIRST_LOAD_BUDGET, f"the editor fetched {loaded / 1024:.0f} KB of JavaScript"

    page.click("[data-testid=auto-layout]")
    page.wait_for_function("() => performance.getEntriesByType('resource').some((e) => e.name.includes('elk'))")
    # The layout was applied: the Log node moved to the right of Start (left to right).
    page.wait_for_function(
        """() => {
          const box = (id) => document.querySelector(`.react-flow__node[data-id='${id}']`).getBoundingClientRect();
          return box('log').left > box('start').right;
        }""")
    assert page_errors.unexpected() == []


def fetch(url: str, encoding: str | None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding} if encoding else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


@pytest.mark.browser
def test_hashed_assets_are_compressed_and_cached_for_a_year(live_server_url: str, frontend_built: Path):
    manifest = json.loads(MANIFEST.read_text())
    script = manifest[editor_entry(manifest)]["file"]
    raw = (DIST / script).read_bytes()
    url = f"{live_server_url}/static/dist/{script}"
    for encoding, expected in (("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br", "br")):
        status, headers, body = fetch(url, encoding)
        assert status == 200
        assert headers.get("content-encoding") == expected, headers
        assert len(body) < len(raw) / 2, f"{expected}: {len(body)} of {len(raw)} bytes"
        assert "immutable" in headers["cache-control"] and "max-age=31536000" in headers["cache-control"], headers
        assert "accept-encoding" in headers.get("vary", "").lower()
    status, headers, body = fetch(url, None)
    assert body == raw and "content-encoding" not in headers
    # The manifest (not hashed) may change with every build: not immutable.
    _, headers, _ = fetch(f"{live_server_url}/static/dist/.vite/manifest.json", "br")
    assert "immutable" not in headers.get("cache-control", "")
