"""Workflows saved before the definition's own `name` was kept equal to the workflow's
(a POST with `"name": "Fan"` and a definition named "Fan-out" showed both): write the
workflow's name into its current definition. Versions stay as they were stored."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def carry_workflow_name(apps: Any, schema_editor: Any) -> None:
    workflow_model = apps.get_model("editor", "Workflow")
    for workflow in workflow_model.objects.only("id", "name", "definition").iterator(chunk_size=200):
        definition = workflow.definition
        if isinstance(definition, dict) and definition.get("name") != workflow.name:
            definition["name"] = workflow.name
            workflow_model.objects.filter(pk=workflow.pk).update(definition=definition)


class Migration(migrations.Migration):
    dependencies = [("editor", "0003_workflow_retention")]

    operations = [migrations.RunPython(carry_workflow_name, migrations.RunPython.noop)]
