from tortoise import migrations
from tortoise.migrations import operations as ops
from lightningtrack.models.integrations import DeliveryStatus, Weekday
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('workspace', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EmailSource',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('address', fields.CharField(max_length=320)),
                ('project', fields.ForeignKeyField('workspace.Project', source_field='project_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('imap_host', fields.CharField(max_length=255)),
                ('imap_port', fields.IntField()),
                ('username', fields.CharField(max_length=320)),
                ('password_encrypted', fields.TextField(unique=False)),
                ('use_tls', fields.BooleanField(default=True)),
                ('folder', fields.CharField(default='INBOX', max_length=200)),
                ('enabled', fields.BooleanField(default=True)),
                ('last_polled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=500)),
                ('next_poll_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('uid_validity', fields.BigIntField(null=True)),
                ('last_uid', fields.BigIntField(default=0)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'email_source', 'app': 'workspace', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InboundMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message_id', fields.CharField(unique=True, max_length=255)),
                ('source_id', fields.BigIntField(null=True)),
                ('issue', fields.ForeignKeyField('workspace.Issue', source_field='issue_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('comment_id', fields.BigIntField(null=True)),
                ('error', fields.CharField(null=True, max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'inbound_message', 'app': 'workspace', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('url', fields.CharField(max_length=2048)),
                ('events', fields.CharField(max_length=400)),
                ('enabled', fields.BooleanField(default=True)),
                ('disabled_reason', fields.CharField(null=True, max_length=300)),
                ('secret', fields.CharField(max_length=100)),
                ('previous_secret', fields.CharField(null=True, max_length=100)),
                ('previous_secret_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('failing_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'webhook', 'app': 'workspace', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message_id', fields.CharField(unique=True, max_length=40)),
                ('event', fields.CharField(max_length=40)),
                ('body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'webhook_message', 'app': 'workspace', 'indexes': [Index(fields=['created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('webhook', fields.ForeignKeyField('workspace.Webhook', source_field='webhook_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('message', fields.ForeignKeyField('workspace.WebhookMessage', source_field='message_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('event', fields.CharField(max_length=40)),
                ('status', fields.CharEnumField(default=DeliveryStatus.PENDING, description='PENDING: PENDING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED', enum_type=DeliveryStatus, max_length=10)),
                ('attempts', fields.IntField(default=0)),
                ('response_status', fields.IntField(null=True)),
                ('last_error', fields.CharField(null=True, max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_delivery', 'app': 'workspace', 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['webhook_id', 'id']), Index(fields=['created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WorkspaceSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('timezone', fields.CharField(default='UTC', max_length=64)),
                ('week_starts_on', fields.CharEnumField(default=Weekday.MONDAY, description='MONDAY: MONDAY\nSUNDAY: SUNDAY', enum_type=Weekday, max_length=8)),
                ('default_project', fields.ForeignKeyField('workspace.Project', source_field='default_project_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'workspace_settings', 'app': 'workspace', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
