"""Secrets at rest: Fernet keys (`crypto`), encrypted model fields (`fields`), and the sealing
and masking of job type settings (`sealing`)."""
