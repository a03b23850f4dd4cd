"""REST API (JSON) under /api/v1, with its OpenAPI document."""
