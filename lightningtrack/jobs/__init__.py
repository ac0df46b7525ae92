"""Background jobs: the tasks, sending mail, and running them in-process or on Dramatiq."""
