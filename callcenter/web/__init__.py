"""HTTP: the REST API (OpenAPI at /docs), health and metrics; consoles come with later issues."""

from callcenter.web.app import create_app

__all__ = ["create_app"]
