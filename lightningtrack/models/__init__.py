"""Tortoise models: ``landlord`` (shared) and ``workspace`` (one database per workspace)."""
