"""koppel as an ASGI factory, for ``uvicorn --factory --workers N`` (``run.py --koppel-workers N``).

What a deployment with several worker processes runs: each worker builds the app from the same
environment (``KOPPEL_*``); in-process jobs run in every worker, their database lease lets only
one run a given job at a time (``koppel.jobs.inprocess``).
"""

from __future__ import annotations

from fastapi import FastAPI

from koppel.app import create_app
from koppel.jobs.serving import attach
from koppel.settings import load_settings


def create() -> FastAPI:
    settings = load_settings()
    app = create_app(settings)
    if settings.job_backend == "inprocess":
        attach(app)
    return app
