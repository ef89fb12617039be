"""The benchmark harness: this product against raw django-q2 (and optional peers), side by side."""
