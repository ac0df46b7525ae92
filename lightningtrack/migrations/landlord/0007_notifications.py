from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('landlord', '0006_erasure_progress')]

    initial = False

    operations = [
        ops.AddField(
            model_name='EmailMessage',
            name='in_reply_to',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='EmailMessage',
            name='reply_to',
            field=fields.CharField(null=True, max_length=320),
        ),
        ops.AddField(
            model_name='EmailMessage',
            name='thread_references',
            field=fields.CharField(null=True, max_length=1000),
        ),
    ]
