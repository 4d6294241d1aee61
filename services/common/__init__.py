"""Plumbing every service shares: configuration, the bus, subjects, tracing, auth, logging."""
