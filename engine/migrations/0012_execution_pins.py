"""`ExecutionPins`: the pinned test data an execution runs with, in a row of its own instead
of the execution's `state` (which the engine rewrites whole at every save). Runs recorded
before keep working: their snapshot moves from `state["pinned"]` to the new row here (and
the engine still reads a `state["pinned"]` it finds, engine.core.execution)."""

from typing import Any

from django.db import migrations, models
import django.db.models.deletion
import engine.fields

CHUNK = 200


def move_pins_out_of_state(apps: Any, schema_editor: Any) -> None:
    Execution = apps.get_model("engine", "Execution")
    ExecutionPins = apps.get_model("engine", "ExecutionPins")
    db = schema_editor.connection.alias
    ids = sorted(Execution.objects.using(db).filter(state__has_key="pinned").values_list("id", flat=True))
    for start in range(0, len(ids), CHUNK):
        changed, pins = [], []
        for ex in Execution.objects.using(db).filter(id__in=ids[start:start + CHUNK]).only("id", "state"):
            state = dict(ex.state) if isinstance(ex.state, dict) else {}
            pinned = state.pop("pinned", None)
            if isinstance(pinned, dict) and pinned:
                pins.append(ExecutionPins(execution_id=ex.id, data=pinned))
            ex.state = state
            changed.append(ex)
        ExecutionPins.objects.using(db).bulk_create(pins, ignore_conflicts=True)
        Execution.objects.using(db).bulk_update(changed, ["state"])


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0011_execution_redrive_columns'),
    ]

    operations = [
        migrations.CreateModel(
            name='ExecutionPins',
            fields=[
                ('execution', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                                                   related_name='pins', serialize=False, to='engine.execution')),
                ('data', engine.fields.ReadableJSONField(default=dict)),
            ],
        ),
        migrations.RunPython(move_pins_out_of_state, migrations.RunPython.noop, elidable=True),
    ]
