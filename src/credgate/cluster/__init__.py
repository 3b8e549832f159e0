"""State shared by every node through the database: the change log, settings checks, counters."""
