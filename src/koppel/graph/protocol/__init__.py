"""Graph and Entra wire protocol on plain data: imports neither FastAPI nor SQLAlchemy."""
