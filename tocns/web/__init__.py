"""The FastAPI web app: platform webhooks, health, metrics and the read-only API."""
