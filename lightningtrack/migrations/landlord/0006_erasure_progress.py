from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('landlord', '0005_billing_stopped')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ErasureProgress',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('landlord.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='erasure_progress', on_delete=OnDelete.CASCADE)),
                ('workspace', fields.ForeignKeyField('landlord.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='erasure_progress', on_delete=OnDelete.CASCADE)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.CharField(null=True, max_length=500)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'erasure_progress', 'app': 'landlord', 'unique_together': (('account', 'workspace'),), 'pk_attr': 'id', 'table_description': 'A workspace whose database may hold rows naming an account (its issues, comments,'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Account',
            name='deletion_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        # Accounts already waiting for erasure were to be visited in every workspace:
        # whose memberships ended before now is not known, so they keep that reach.
        ops.RunSQL(
            "INSERT INTO erasure_progress (account_id, workspace_id, recorded_at, attempts) "
            "SELECT account.id, workspace.id, account.deletion_scheduled_at, 0 "
            "FROM account CROSS JOIN workspace "
            "WHERE account.deletion_scheduled_at IS NOT NULL",
            reverse_sql=ops.RunSQL.noop,
        ),
    ]
