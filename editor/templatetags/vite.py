"""`{% vite_entry "name" %}`: the script, CSS and preload tags of one Vite entry.

Vite writes `static/dist/.vite/manifest.json` (build.manifest in vite.config.ts), mapping
each source file to its hashed output and the chunks/CSS it imports. The tag reads it
once per process (and again on every render while DEBUG, so `npm run build` in another
terminal shows up without a restart). If the front end was never built, the page says so
instead of failing with a blank screen.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from django import template
from django.conf import settings
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

DIST_URL = "/static/dist/"
ENTRIES_SOURCE_DIR = "src/entries/"

_cache_lock = threading.Lock()
_cached_manifest: dict[str, Any] | None = None


def manifest_path() -> Path:
    return Path(settings.BASE_DIR) / "static" / "dist" / ".vite" / "manifest.json"


def load_manifest() -> dict[str, Any] | None:
    """The parsed manifest, or None when the front end has not been built."""
    global _cached_manifest
    if _cached_manifest is not None and not settings.DEBUG:
        return _cached_manifest
    path = manifest_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    with _cache_lock:
        _cached_manifest = data
    return data


def reset_cache() -> None:
    global _cached_manifest
    with _cache_lock:
        _cached_manifest = None


def _find_chunk(manifest: dict[str, Any], entry: str) -> dict[str, Any] | None:
    for key in (f"{ENTRIES_SOURCE_DIR}{entry}.tsx", f"{ENTRIES_SOURCE_DIR}{entry}.ts", entry):
        if key in manifest:
            return manifest[key]
    # Fall back on the chunk's `name` (the rollup input key) whatever its source path.
    for chunk in manifest.values():
        if chunk.get("isEntry") and chunk.get("name") == entry:
            return chunk
    return None


def _collect(manifest: dict[str, Any], chunk: dict[str, Any], css: list[str], preloads: list[str], seen: set[str]) -> None:
    for css_file in chunk.get("css", []):
        if css_file not in css:
            css.append(css_file)
    for key in chunk.get("imports", []):
        if key in seen:
            continue
        seen.add(key)
        imported = manifest.get(key)
        if imported is None:
            continue
        preloads.append(imported["file"])
        _collect(manifest, imported, css, preloads, seen)


def render_entry(entry: str) -> SafeString:
    manifest = load_manifest()
    if manifest is None:
        return format_html(
            '<!-- vite manifest missing: {} -->'
            '<div class="frontend-missing" role="alert" data-testid="frontend-missing">'
            "front end not built: run make run</div>",
            str(manifest_path()),
        )
    chunk = _find_chunk(manifest, entry)
    if chunk is None:
        return format_html(
            '<!-- vite entry "{}" not in manifest -->'
            '<div class="frontend-missing" role="alert" data-testid="frontend-missing">'
            "front end not built (entry {} missing): run make run</div>",
            entry,
            entry,
        )
    css: list[str] = []
    preloads: list[str] = []
    _collect(manifest, chunk, css, preloads, set())
    parts = [
        format_html_join("", '<link rel="stylesheet" href="{}{}">', ((DIST_URL, f) for f in css)),
        format_html_join("", '<link rel="modulepreload" href="{}{}">', ((DIST_URL, f) for f in preloads)),
        format_html('<script type="module" src="{}{}"></script>', DIST_URL, chunk["file"]),
    ]
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - every part is format_html-escaped


@register.simple_tag
def vite_entry(entry: str) -> SafeString:
    return render_entry(entry)
