"""Small HTTP clients of the outside services the job types call (httpx, explicit timeouts, no SDKs)."""
