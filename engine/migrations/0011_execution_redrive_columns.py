"""`Execution.redrives`, `redriven_at` and `idle_ms`: how often a run was redriven, when last,
and the time it sat finished between an attempt's end and the next redrive. Runs redriven
before are filled in once from what they stored: the redrive history in their state and
their events (an attempt's end event, then the `execution.queued` event of the redrive)."""

from typing import Any

from django.db import migrations, models

ENDS = ("execution.succeeded", "execution.failed", "execution.cancelled", "execution.timed_out")
CHUNK = 200


def fill_earlier_redrives(apps: Any, schema_editor: Any) -> None:
    Execution = apps.get_model("engine", "Execution")
    Event = apps.get_model("engine", "Event")
    db = schema_editor.connection.alias
    ids = sorted(Execution.objects.using(db).filter(state__has_key="redrive").values_list("id", flat=True))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        events: dict[Any, list[tuple[str, Any, Any]]] = {}
        for ex_id, type_, ts, data in (Event.objects.using(db)
                                       .filter(execution_id__in=chunk, type__in=(*ENDS, "execution.queued"))
                                       .order_by("execution_id", "seq").values_list("execution_id", "type", "ts", "data")):
            events.setdefault(ex_id, []).append((type_, ts, data))
        changed = []
        for ex in Execution.objects.using(db).filter(id__in=chunk).only("id", "state"):
            redrive = (ex.state or {}).get("redrive") if isinstance(ex.state, dict) else None
            if not isinstance(redrive, dict):
                continue
            idle_ms, ended, at = 0, None, None
            count = 0
            for type_, ts, data in events.get(ex.id, []):
                if type_ in ENDS:
                    ended = ts
                elif isinstance(data, dict) and data.get("reason") == "redrive":
                    count += 1
                    at = ts
                    if ended is not None:
                        idle_ms += max(0, int((ts - ended).total_seconds() * 1000))
                    ended = None
            ex.redrives = max(count, int(redrive.get("number") or 0))
            ex.redriven_at = at
            ex.idle_ms = idle_ms
            changed.append(ex)
        Execution.objects.using(db).bulk_update(changed, ["redrives", "redriven_at", "idle_ms"])


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0010_event_status_index_holds_signals'),
    ]

    operations = [
        migrations.AddField(model_name='execution', name='redrives', field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name='execution', name='redriven_at', field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name='execution', name='idle_ms', field=models.BigIntegerField(default=0)),
        migrations.RunPython(fill_earlier_redrives, migrations.RunPython.noop, elidable=True),
    ]
