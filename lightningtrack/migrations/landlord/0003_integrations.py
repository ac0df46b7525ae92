from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('landlord', '0002_billing')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WorkspaceSchedule',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('landlord.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='schedules', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=20)),
                ('due_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('version', fields.IntField(default=0)),
            ],
            options={'table': 'workspace_schedule', 'app': 'landlord', 'unique_together': (('workspace', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
