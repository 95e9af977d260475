"""Storage: engine and sessions, the declarative Base, shared column types, migrations."""
