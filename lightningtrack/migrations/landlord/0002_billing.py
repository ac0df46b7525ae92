from tortoise import migrations
from tortoise.migrations import operations as ops
from lightningtrack.models.landlord import Plan, Region
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('landlord', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StripeEvent',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=255)),
                ('type', fields.CharField(max_length=100)),
                ('received_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stripe_event', 'app': 'landlord', 'pk_attr': 'id', 'table_description': 'A Stripe event already handled: each event id is acted on once. Only the id and the'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='DataExport',
            name='region',
            field=fields.CharEnumField(null=True, description='EU: EU\nUS: US', enum_type=Region, max_length=2),
        ),
        ops.AddField(
            model_name='Workspace',
            name='billing_synced_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Workspace',
            name='cancelled_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Workspace',
            name='card_last4',
            field=fields.CharField(null=True, max_length=4),
        ),
        ops.AddField(
            model_name='Workspace',
            name='current_period_end',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Workspace',
            name='plan',
            field=fields.CharEnumField(null=True, description='STANDARD: STANDARD\nBUSINESS: BUSINESS', enum_type=Plan, max_length=10),
        ),
        ops.AddField(
            model_name='Workspace',
            name='stripe_customer_id',
            field=fields.CharField(null=True, unique=True, max_length=255),
        ),
        ops.AddField(
            model_name='Workspace',
            name='stripe_subscription_id',
            field=fields.CharField(null=True, max_length=255),
        ),
    ]
