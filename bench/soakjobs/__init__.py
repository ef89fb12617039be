"""A soak-only app holding the mixed workload that `python -m bench.soak` runs."""
