from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('landlord', '0003_integrations')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Workspace',
            name='cancel_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Workspace',
            name='cancel_at_period_end',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
