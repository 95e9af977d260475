"""Operations: health, readiness, Prometheus metrics, logging set-up."""
