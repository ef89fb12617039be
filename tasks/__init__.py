"""The job types this deployment runs, one module per domain, and the clients they call."""
