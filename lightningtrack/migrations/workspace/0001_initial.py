from tortoise import migrations
from tortoise.migrations import operations as ops
from lightningtrack.models.workspace import IssuePriority, IssueStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Label',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=50)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'label', 'app': 'workspace', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Project',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=10)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(null=True, unique=False)),
                ('archived', fields.BooleanField(default=False)),
                ('last_issue_number', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'project', 'app': 'workspace', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Issue',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.ForeignKeyField('workspace.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='issues', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('title', fields.CharField(max_length=255)),
                ('description', fields.TextField(null=True, unique=False)),
                ('status', fields.CharEnumField(default=IssueStatus.BACKLOG, description='BACKLOG: BACKLOG\nTODO: TODO\nIN_PROGRESS: IN_PROGRESS\nIN_REVIEW: IN_REVIEW\nDONE: DONE\nCANCELLED: CANCELLED', enum_type=IssueStatus, max_length=16)),
                ('priority', fields.CharEnumField(default=IssuePriority.NONE, description='NONE: NONE\nURGENT: URGENT\nHIGH: HIGH\nMEDIUM: MEDIUM\nLOW: LOW', enum_type=IssuePriority, max_length=8)),
                ('priority_rank', fields.SmallIntField(default=5)),
                ('assignee_id', fields.UUIDField(null=True)),
                ('creator_id', fields.UUIDField(null=True)),
                ('estimate_seconds', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('labels', fields.ManyToManyField('workspace.Label', unique=True, db_constraint=True, through='issue_label', forward_key='label_id', backward_key='issue_id', related_name='issues', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'issue', 'app': 'workspace', 'unique_together': (('project', 'number'),), 'indexes': [Index(fields=['created_at', 'id']), Index(fields=['updated_at', 'id']), Index(fields=['priority_rank', 'id']), Index(fields=['assignee_id']), Index(fields=['status', 'created_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Comment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('issue', fields.ForeignKeyField('workspace.Issue', source_field='issue_id', db_index=True, db_constraint=True, to_field='id', related_name='comments', on_delete=OnDelete.CASCADE)),
                ('author_id', fields.UUIDField(null=True)),
                ('body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'comment', 'app': 'workspace', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TimeEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('issue', fields.ForeignKeyField('workspace.Issue', source_field='issue_id', db_index=True, db_constraint=True, to_field='id', related_name='time_entries', on_delete=OnDelete.CASCADE)),
                ('account_id', fields.UUIDField(null=True)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('duration_seconds', fields.IntField()),
                ('note', fields.TextField(null=True, unique=False)),
                ('billable', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'time_entry', 'app': 'workspace', 'indexes': [Index(fields=['started_at', 'id']), Index(fields=['account_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
