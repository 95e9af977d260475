"""OIDC wire logic on plain data: no FastAPI, no SQLAlchemy (import-linter contract)."""
