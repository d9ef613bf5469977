"""HTTP: the FastAPI app, its routes, request and response schemas, metrics."""
