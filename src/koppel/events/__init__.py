"""OUT: the ordered event log, its cursor API and signed webhooks."""
