"""Pinned test data (n8n's "pin data"): writes and reads of a workflow's pins.

A pin is a node's output kept for test runs: a run started from the editor with
`usePinnedData` does not run a pinned node, it outputs the pin at once (engine.core.attempts).
Pins live beside the workflow (`PinnedOutput`), never in its definition, and only the pins
of nodes of the current definition whose type is `pinnable` take effect. Callers look the
workflow up through `editor.selectors` first, so another user's workflow is a 404.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404

from editor.models import PinnedOutput, Workflow
from engine.errors import Refusal
from engine.nodes import get_node_type


class PinRefused(Refusal):
    status_code = 400


class TooManyPins(Refusal):
    # "At the bound" answers of this API are 409s (docs/api.md); a 400 means the request is wrong.
    status_code = 409


def _nodes(definition: Any) -> dict[str, dict[str, Any]]:
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    return {n["id"]: n for n in (nodes if isinstance(nodes, list) else [])
            if isinstance(n, dict) and isinstance(n.get("id"), str)}


def pinnable_types() -> list[str]:
    from engine.nodes import REGISTRY

    return sorted(name for name, cls in REGISTRY.items() if getattr(cls, "pinnable", False))


def refusal_for(node_id: str, definition: Any, nodes: dict[str, dict[str, Any]] | None = None) -> str | None:
    """Why `node_id` of `definition` cannot be pinned, or None when it can (`nodes`: the
    definition's nodes by id, when the caller already has them)."""
    node = (nodes if nodes is not None else _nodes(definition)).get(node_id)
    if node is None:
        return f"the workflow has no node {node_id!r} (save the workflow first if you just added it)"
    cls = get_node_type(str(node.get("type")))
    if cls is None or not cls.pinnable:
        return (f"a {node.get('type')} node cannot be pinned: its work is not only its output "
                f"(only {', '.join(pinnable_types())} nodes can)")
    return None


def pin_list(*, workflow: Workflow) -> list[PinnedOutput]:
    return list(PinnedOutput.objects.filter(workflow=workflow).select_related("updated_by"))


def _checked_size(node_id: str, definition: Any, data: Any, nodes: dict[str, dict[str, Any]] | None = None) -> int:
    """The size of `data` as JSON, once `node_id` of `definition` may be pinned with it; a
    `PinRefused` naming the node otherwise."""
    why = refusal_for(node_id, definition, nodes)
    if why is not None:
        raise PinRefused(f"node {node_id}: {why}", [{"message": why, "nodeId": node_id}])
    size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    limit = settings.FLOWMAESTRO_PINNED_DATA_MAX_BYTES
    if size > limit:
        message = (f"the pinned data is {size} bytes of JSON, more than {limit} "
                   "(the bound FLOWMAESTRO_PINNED_DATA_MAX_BYTES)")
        raise PinRefused(f"node {node_id}: {message}", [{"message": message, "nodeId": node_id}])
    return size


def _too_many(most: int) -> TooManyPins:
    return TooManyPins(f"a workflow has at most {most} pinned nodes (the bound "
                       "FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW): unpin one to pin another")


def pin_put(*, workflow: Workflow, user: Any, node_id: str, data: Any) -> PinnedOutput:
    """Pin `data` as the output of `node_id` (a new pin or a replaced one)."""
    size = _checked_size(node_id, workflow.definition, data)
    with transaction.atomic():
        # The workflow row locked: two pins of different nodes at the same moment cannot both
        # pass the count below. Its definition is read under the lock, as a save made since
        # the look-up left it.
        definition = Workflow.objects.select_for_update().filter(pk=workflow.pk).values_list(
            "definition", flat=True).first()
        if definition is None:
            # Deleted since the view found it (another tab, another request): the pin's row
            # would name a workflow that is gone, a 500 from the foreign key.
            raise Http404("No such workflow.")
        why = refusal_for(node_id, definition)
        if why is not None:
            raise PinRefused(f"node {node_id}: {why}", [{"message": why, "nodeId": node_id}])
        # Pins of nodes the saved workflow no longer has go here: the editor shows no node to
        # unpin them from, and they would count toward the bound below for good.
        PinnedOutput.objects.filter(workflow=workflow).exclude(node_id__in=list(_nodes(definition))).delete()
        pin = PinnedOutput.objects.filter(workflow=workflow, node_id=node_id).first()
        if pin is None:
            most = settings.FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW
            if PinnedOutput.objects.filter(workflow=workflow).count() >= most:
                raise _too_many(most)
            pin = PinnedOutput(workflow=workflow, node_id=node_id)
        pin.data, pin.size, pin.updated_by = data, size, user if getattr(user, "pk", None) else None
        pin.save()
    return pin


def pins_replace(*, workflow: Workflow, user: Any, pin_data: dict[str, Any]) -> None:
    """The workflow's pins become `pin_data` ({node id: output}, the `pinData` of an imported
    workflow, n8n's name for it), checked as `pin_put` checks one pin, against the workflow
    as just saved. Called inside the save's transaction: a pin refused (a 400 naming its
    node, a 409 over the count) refuses the whole import, workflow included."""
    most = settings.FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW
    try:
        if len(pin_data) > most:
            raise _too_many(most)
        nodes = _nodes(workflow.definition)
        sizes = {node_id: _checked_size(node_id, workflow.definition, data, nodes)
                 for node_id, data in pin_data.items()}
    except Refusal as refusal:
        # Said to be about `pinData`: the editor then knows it was the file's pins, not the
        # workflow, that the server refused.
        raise type(refusal)(f"pinData: {refusal.message}", refusal.errors) from None
    by = user if getattr(user, "pk", None) else None
    PinnedOutput.objects.filter(workflow=workflow).delete()
    PinnedOutput.objects.bulk_create(
        PinnedOutput(workflow=workflow, node_id=node_id, data=data, size=sizes[node_id], updated_by=by)
        for node_id, data in pin_data.items())


def pin_delete(*, workflow: Workflow, node_id: str) -> bool:
    deleted, _ = PinnedOutput.objects.filter(workflow=workflow, node_id=node_id).delete()
    return bool(deleted)


def pins_in_force(*, workflow: Workflow, definition: Any) -> dict[str, Any]:
    """{node id: data} of the pins a run of `definition` uses: nodes it has, of a pinnable
    type (a pin whose node was since deleted or changed type stays stored, unused)."""
    pins = dict(PinnedOutput.objects.filter(workflow=workflow).values_list("node_id", "data"))
    nodes = _nodes(definition)  # once, not once per pin (a run's start path)
    return {node_id: data for node_id, data in pins.items() if refusal_for(node_id, definition, nodes) is None}


def pins_for_rerun(*, execution: Any, definition: Any) -> dict[str, Any]:
    """The pins a test run's "Re-run from here" uses (`usePinnedData` on a redrive): the
    workflow's pins as they are now, for `definition` (the version redriven), as a new test
    run from the editor would use them — n8n's rule: a manual run uses the current pins, so
    a node unpinned since the run runs. A plain redrive, a retry and a takeover keep the
    run's own copy instead (engine.services). Refused for a run that never used pins: a
    webhook's or an API call's run must not start using test data."""
    from engine.services import execution_pinned

    if execution_pinned(execution, test_run=True) is None:
        raise PinRefused(f"execution {execution.pk} was not a test run with pinned data (usePinnedData): "
                         "it has no pins to bring up to date")
    return pins_in_force(workflow=execution.workflow, definition=definition)
