"""`NodeRun.pinned`: a node run whose output is pinned test data. Such runs used to be
marked by `claimed_by = "pinned"`, the column that says which engine holds a run; those
rows are marked here, and their `claimed_by` emptied (no engine is known for them)."""

from typing import Any

from django.db import migrations, models


def mark_pinned_runs(apps: Any, schema_editor: Any) -> None:
    NodeRun = apps.get_model("engine", "NodeRun")
    NodeRun.objects.using(schema_editor.connection.alias).filter(claimed_by="pinned").update(
        pinned=True, claimed_by="")


def unmark_pinned_runs(apps: Any, schema_editor: Any) -> None:
    NodeRun = apps.get_model("engine", "NodeRun")
    NodeRun.objects.using(schema_editor.connection.alias).filter(pinned=True).update(claimed_by="pinned")


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0012_execution_pins'),
    ]

    operations = [
        migrations.AddField(model_name='noderun', name='pinned', field=models.BooleanField(default=False)),
        migrations.RunPython(mark_pinned_runs, unmark_pinned_runs, elidable=True),
    ]
