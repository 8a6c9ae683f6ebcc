"""The status events' index also holds `signal` events: the timeline's signal log reads the
last signals of a run through it (GET …/events?type=signal,…&beforeSeq=) instead of paging
back through up to 4,000 events of every kind."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0009_event_read_indexes_narrower'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='event',
            name='event_status_seq',
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('type__in', ('execution.paused', 'execution.resumed', 'execution.cancelled', 'execution.failed', 'execution.succeeded', 'execution.timed_out', 'signal'))), fields=['execution', 'seq'], name='event_status_seq'),
        ),
    ]
