"""FastAPI REST API for operators and scientists."""
