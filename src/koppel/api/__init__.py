"""What every JSON surface shares: request dependencies, problem+json rendering, pagination."""
