"""A bench-only app holding the no-op job type that side B runs."""
