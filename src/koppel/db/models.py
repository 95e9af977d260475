"""Imports every capability's models so ``Base.metadata`` is complete (Alembic, create_all).

Add one line here when a capability gets tables.
"""

from koppel.apikeys import models as apikeys_models
from koppel.db.base import Base
from koppel.directory import models as directory_models
from koppel.events import models as events_models
from koppel.graph import models as graph_models
from koppel.jobs import models as jobs_models  # noqa: F401  (job_leases)
from koppel.organizations import models as organizations_models
from koppel.roles import models as roles_models
from koppel.scim import models as scim_models
from koppel.sso import models as sso_models

__all__ = [
    "Base",
    "apikeys_models",
    "directory_models",
    "events_models",
    "graph_models",
    "organizations_models",
    "roles_models",
    "scim_models",
    "sso_models",
]
