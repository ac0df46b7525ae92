from tortoise import migrations
from tortoise.migrations import operations as ops
from lightningtrack.models.notifications import NotificationKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('workspace', '0002_integrations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IssueSender',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('issue', fields.OneToOneField('workspace.Issue', source_field='issue_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('address', fields.CharField(db_index=True, max_length=320)),
                ('message_id', fields.CharField(max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'issue_sender', 'app': 'workspace', 'pk_attr': 'id', 'table_description': 'Who wrote an issue by mail, when that is not a member: answered by mail.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='ASSIGNED: ASSIGNED\nCOMMENTED: COMMENTED\nANSWERED: ANSWERED', enum_type=NotificationKind, max_length=12)),
                ('issue', fields.ForeignKeyField('workspace.Issue', source_field='issue_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('comment', fields.ForeignKeyField('workspace.Comment', source_field='comment_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('actor_id', fields.UUIDField(null=True)),
                ('recipient_id', fields.UUIDField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification', 'app': 'workspace', 'indexes': [Index(fields=['created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='EmailSource',
            name='notify_senders',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='EmailSource',
            name='starttls',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
