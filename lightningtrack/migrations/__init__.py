"""Tortoise migrations: ``landlord/`` for the shared database, ``workspace/`` for each workspace.

New migrations are written by Tortoise's autodetector from the models::

    tortoise -c lightningtrack.migrations.TORTOISE_ORM makemigrations
"""

from lightningtrack.tenancy.config import LANDLORD, LANDLORD_APP, WORKSPACE, WORKSPACE_APP

TORTOISE_ORM = {
    "connections": {
        LANDLORD: "sqlite://:memory:",
        WORKSPACE: "sqlite://:memory:",
    },
    "apps": {LANDLORD: LANDLORD_APP, WORKSPACE: WORKSPACE_APP},
    "use_tz": True,
    "timezone": "UTC",
}
