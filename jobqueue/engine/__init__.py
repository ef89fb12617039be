"""The engine, free of django-q2: claim, transitions, decide, the pipeline, reclaim, scheduling, SQL."""
