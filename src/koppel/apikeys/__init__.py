"""API keys for the management API: shown once, stored hashed."""
