"""Encryption at rest, token hashing, constant-time comparison. No FastAPI, no ORM."""
