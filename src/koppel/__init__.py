"""koppel: the Microsoft 365 / Entra ID integration for any SaaS application."""

__version__ = "0.1.0"
