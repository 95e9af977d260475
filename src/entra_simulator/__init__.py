"""A local Microsoft Entra ID tenant simulator: ``login.microsoftonline.com`` and ``graph.microsoft.com``.

Behaviour follows ``shared/spec/entra-oidc-graph.md``; each module cites the section it implements.
This package imports nothing from ``koppel`` (DESIGN.md "Simulator"; an import-linter contract).
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
