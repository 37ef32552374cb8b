"""The REST API (``/api/``). Views parse input, call services, and serialise; no business rules."""
