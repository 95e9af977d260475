"""``python -m koppel`` runs the CLI."""

from koppel.cli import app

app()
