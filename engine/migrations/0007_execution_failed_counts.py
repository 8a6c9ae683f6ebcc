"""`Execution.failed_nodes` and `failed_items`: what a redrive without a selection re-runs,
counted by the engine when a run ends (engine.core.execution `redrivable`). Runs that ended
before are counted here once, from what they stored: the `failedItems` the engine kept in
their state, and the latest top-level node run of each node of the flow."""

from typing import Any

from django.db import migrations, models

FINISHED = ("succeeded", "failed", "cancelled", "timed_out")
CHUNK = 500


def _outside_the_flow(definition: Any) -> set[str]:
    """Custom signal handlers and compensation nodes: run on their own, never redriven."""
    if not isinstance(definition, dict):
        return set()
    settings = definition.get("settings") or {}
    handlers = settings.get("signalHandlers") or {}
    out = {str(h.get("handler")) for h in handlers.values() if isinstance(h, dict) and h.get("handler")} \
        if isinstance(handlers, dict) else set()
    for node in definition.get("nodes") or []:
        if isinstance(node, dict) and (node.get("config") or {}).get("compensate"):
            out.add(str(node["config"]["compensate"]))
    return out


def count_earlier_runs(apps: Any, schema_editor: Any) -> None:
    Execution = apps.get_model("engine", "Execution")
    NodeRun = apps.get_model("engine", "NodeRun")
    db = schema_editor.connection.alias
    # Only runs that can have something to count: failed items in their state, or a
    # top-level node run that did not succeed.
    candidates = set(Execution.objects.using(db).filter(status__in=FINISHED, state__has_key="failedItems")
                     .values_list("id", flat=True))
    candidates |= set(NodeRun.objects.using(db).filter(scope="", status__in=("failed", "timed_out", "cancelled"))
                      .values_list("execution_id", flat=True).distinct())
    ids = sorted(candidates)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        runs = {e.id: e for e in Execution.objects.using(db).filter(id__in=chunk, status__in=FINISHED)
                .select_related("version").only("id", "status", "state", "version__definition")}
        latest: dict[Any, dict[str, tuple[str, str]]] = {}
        for ex_id, node_id, status, type_ in (NodeRun.objects.using(db).filter(execution_id__in=list(runs), scope="")
                                              .order_by("execution_id", "seq")
                                              .values_list("execution_id", "node_id", "status", "type")):
            latest.setdefault(ex_id, {})[node_id] = (status, type_)
        changed = []
        for ex_id, ex in runs.items():
            state = ex.state if isinstance(ex.state, dict) else {}
            try:
                items = max(0, int(state.get("failedItems") or 0))
            except (TypeError, ValueError):
                items = 0
            outside = _outside_the_flow(ex.version.definition)
            succeeded = ex.status == "succeeded"
            nodes = 0
            for node_id, (status, type_) in latest.get(ex_id, {}).items():
                if node_id in outside or status in ("succeeded", "skipped"):
                    continue
                if succeeded and status == "cancelled":
                    continue  # cut by design in a run that succeeded (engine.core.redrive)
                if type_ == "loop" and items:
                    continue  # a loop that failed through its items counts as those items
                nodes += 1
            if nodes or items:
                ex.failed_nodes, ex.failed_items = nodes, items
                changed.append(ex)
        Execution.objects.using(db).bulk_update(changed, ["failed_nodes", "failed_items"])


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0006_derived_ids_unbounded'),
    ]

    operations = [
        migrations.AddField(
            model_name='execution',
            name='failed_items',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='execution',
            name='failed_nodes',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_earlier_runs, migrations.RunPython.noop),
    ]
