"""Partial indexes for the event reads of the timeline (engine.timeline): its paused
intervals (the run's status events) and a node run's log lines and a loop's `node.started`
read by node run. Without them each read went through every event of the execution (the
only index was the unique (execution, seq)): 50,000 rows for one timeline of a big run."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0007_execution_failed_counts'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('type__in', ('execution.paused', 'execution.resumed', 'execution.cancelled', 'execution.failed', 'execution.succeeded', 'execution.timed_out'))), fields=['execution', 'seq'], name='event_status_seq'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('type__in', ('log', 'node.started'))), fields=['execution', 'node_run_id', 'seq'], name='event_node_run_seq'),
        ),
    ]
