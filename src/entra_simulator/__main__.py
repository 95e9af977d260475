"""``python -m entra_simulator``: the same Typer app that koppel mounts as ``koppel simulator``."""

from entra_simulator.cli import app

app()
