"""Encrypted backups of the landlord and of every workspace database, and restoring them."""
