"""Group → role mapping per organization (seed 001's "koppelvlaktabel") and its evaluation."""
