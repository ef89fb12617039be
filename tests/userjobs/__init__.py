"""A user's app of job types beside the suite's: payloads with open objects and free-form values."""
