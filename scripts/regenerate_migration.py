"""Regenerate the initial migration from the models (before the first release only).

    .venv/bin/python scripts/regenerate_migration.py

Until koppel has a release, the schema is one migration, ``0001_initial``, rebuilt from the
models. After a release, add new revisions with ``alembic revision --autogenerate`` instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from koppel.db.migrate import MIGRATIONS, alembic_config

for old in (MIGRATIONS / "versions").glob("*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    config = alembic_config(f"sqlite:///{Path(tmp) / 'blank.db'}")
    command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
print("wrote", *sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py")))

import subprocess  # noqa: E402
import sys  # noqa: E402

ruff = Path(sys.executable).parent / "ruff"
subprocess.run([str(ruff), "check", "--fix", "-q", str(MIGRATIONS)], check=False)
subprocess.run([str(ruff), "format", "-q", str(MIGRATIONS)], check=True)
