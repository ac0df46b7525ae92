from tortoise import migrations
from tortoise.migrations import operations as ops
from lightningtrack.models.landlord import WorkspaceStatus
from tortoise import fields


class AlterComment(ops.AlterField):
    """A change of the column's comment only (the statuses it lists): the column itself is
    the same VARCHAR(20). SQLite keeps no comments, and Tortoise would rebuild the table
    there, whose DROP cascades to every row that references a workspace (memberships, keys,
    exports): so on SQLite only the migration state changes."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.DIALECT == "sqlite":
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.DIALECT == "sqlite":
            return
        await super().database_backward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('landlord', '0004_billing_cancel')]

    initial = False

    operations = [
        AlterComment(
            model_name='Workspace',
            name='status',
            field=fields.CharEnumField(default=WorkspaceStatus.TRIALING, description='TRIALING: TRIALING\nACTIVE: ACTIVE\nPAST_DUE: PAST_DUE\nUNPAID: UNPAID\nPAUSED: PAUSED\nCANCELLED: CANCELLED\nTRIAL_EXPIRED: TRIAL_EXPIRED\nPENDING_DELETION: PENDING_DELETION', enum_type=WorkspaceStatus, max_length=20),
        ),
        AlterComment(
            model_name='Workspace',
            name='status_before_deletion',
            field=fields.CharEnumField(null=True, description='TRIALING: TRIALING\nACTIVE: ACTIVE\nPAST_DUE: PAST_DUE\nUNPAID: UNPAID\nPAUSED: PAUSED\nCANCELLED: CANCELLED\nTRIAL_EXPIRED: TRIAL_EXPIRED\nPENDING_DELETION: PENDING_DELETION', enum_type=WorkspaceStatus, max_length=20),
        ),
    ]
