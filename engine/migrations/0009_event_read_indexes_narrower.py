"""The by-node-run index of 0008 held every `node.started` event, one per node run: an
index insert on the engine's hottest write for a read that wants only a loop's start.
Now two narrower ones: `log` events by (execution, node run, seq), the side panel's log
lines; and `node.started` events with data (only a loop's carries any: its `itemCount`)
by (execution, node run), the timeline's item counts. An ordinary node run's events go
into no index but the unique (execution, seq)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0008_event_read_indexes'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='event',
            name='event_node_run_seq',
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('type', 'log')), fields=['execution', 'node_run_id', 'seq'], name='event_log_seq'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('data__isnull', False), ('type', 'node.started')), fields=['execution', 'node_run_id'], name='event_loop_started'),
        ),
    ]
