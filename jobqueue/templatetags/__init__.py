"""Template tags of the job queue's admin pages."""
