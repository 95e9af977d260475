"""Pure SCIM protocol code: filters, PATCH, schemas, projection. Imports neither FastAPI nor SQLAlchemy."""
