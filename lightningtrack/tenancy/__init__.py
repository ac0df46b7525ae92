"""Tenancy: the landlord's Tortoise set-up, workspace binding, pools, provisioning, migration."""
