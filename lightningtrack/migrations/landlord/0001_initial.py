from tortoise import migrations
from tortoise.migrations import operations as ops
from lightningtrack.models.landlord import DataExportKind, EmailStatus, JobStatus, Region, Role, WorkspaceStatus
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Account',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('email', fields.CharField(max_length=320)),
                ('email_key', fields.CharField(unique=True, max_length=320)),
                ('password_hash', fields.CharField(max_length=255)),
                ('email_verified', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('deletion_scheduled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'account', 'app': 'landlord', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AccountToken',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('purpose', fields.CharField(max_length=20)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('account', fields.ForeignKeyField('landlord.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(null=True, max_length=320)),
                ('email_key', fields.CharField(db_index=True, max_length=320)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'account_token', 'app': 'landlord', 'pk_attr': 'id', 'table_description': 'A one-time token sent by mail (password reset, email verification): only its'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EmailMessage',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=40)),
                ('dedupe_key', fields.CharField(null=True, unique=True, max_length=200)),
                ('to_address', fields.CharField(max_length=320)),
                ('subject', fields.CharField(max_length=300)),
                ('text_body', fields.TextField(unique=False)),
                ('html_body', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=EmailStatus.PENDING, description='PENDING: PENDING\nSENT: SENT\nFAILED: FAILED', enum_type=EmailStatus, max_length=10)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.CharField(null=True, max_length=500)),
                ('next_attempt_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'email_message', 'app': 'landlord', 'pk_attr': 'id', 'table_description': 'A mail owed. The row is the truth: a lost job is found again by the sweep, and'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('account', fields.ForeignKeyField('landlord.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('user_agent', fields.CharField(null=True, max_length=255)),
            ],
            options={'table': 'session', 'app': 'landlord', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Workspace',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=40)),
                ('name', fields.CharField(max_length=200)),
                ('region', fields.CharEnumField(default=Region.US, description='EU: EU\nUS: US', enum_type=Region, max_length=2)),
                ('status', fields.CharEnumField(default=WorkspaceStatus.TRIALING, description='TRIALING: TRIALING\nACTIVE: ACTIVE\nPAST_DUE: PAST_DUE\nCANCELLED: CANCELLED\nTRIAL_EXPIRED: TRIAL_EXPIRED\nPENDING_DELETION: PENDING_DELETION', enum_type=WorkspaceStatus, max_length=20)),
                ('trial_ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deletion_scheduled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status_before_deletion', fields.CharEnumField(null=True, description='TRIALING: TRIALING\nACTIVE: ACTIVE\nPAST_DUE: PAST_DUE\nCANCELLED: CANCELLED\nTRIAL_EXPIRED: TRIAL_EXPIRED\nPENDING_DELETION: PENDING_DELETION', enum_type=WorkspaceStatus, max_length=20)),
                ('db_name', fields.CharField(unique=True, max_length=63)),
                ('schema_version', fields.CharField(null=True, max_length=255)),
                ('migrated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'workspace', 'app': 'landlord', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DataExport',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='WORKSPACE: WORKSPACE\nACCESS_REPORT: ACCESS_REPORT', enum_type=DataExportKind, max_length=20)),
                ('status', fields.CharEnumField(default=JobStatus.QUEUED, description='QUEUED: QUEUED\nRUNNING: RUNNING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED\nEXPIRED: EXPIRED', enum_type=JobStatus, max_length=10)),
                ('workspace', fields.ForeignKeyField('landlord.Workspace', source_field='workspace_id', null=True, db_constraint=True, to_field='id', related_name='exports', on_delete=OnDelete.CASCADE)),
                ('account', fields.ForeignKeyField('landlord.Account', source_field='account_id', null=True, db_constraint=True, to_field='id', related_name='exports', on_delete=OnDelete.CASCADE)),
                ('attempts', fields.IntField(default=0)),
                ('error', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'data_export', 'app': 'landlord', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Membership',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('landlord.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('account', fields.ForeignKeyField('landlord.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='OWNER: OWNER\nADMIN: ADMIN\nMEMBER: MEMBER\nGUEST: GUEST', enum_type=Role, max_length=10)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'membership', 'app': 'landlord', 'unique_together': (('workspace', 'account'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WorkspaceTombstone',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('region', fields.CharEnumField(description='EU: EU\nUS: US', enum_type=Region, max_length=2)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('erased_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'workspace_tombstone', 'app': 'landlord', 'pk_attr': 'id', 'table_description': 'What remains of an erased workspace: no name, no slug, no member.'},
            bases=['Model'],
        ),
    ]
