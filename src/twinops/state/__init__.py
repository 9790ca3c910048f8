"""State: current values, full history, as-of (time-travel) and window queries."""
