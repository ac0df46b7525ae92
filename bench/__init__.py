"""The performance harness: ``python3 dev.py bench`` (see README.md beside this file)."""
