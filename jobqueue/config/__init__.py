"""Configuration: the JOBQUEUE settings (`settings`), the per-type options and their
validators (`options`, `values`), and the effective configuration per job type (`effective`)."""
