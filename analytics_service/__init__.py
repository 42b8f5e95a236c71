"""Caravan analytics service: a FastAPI proxy for W&B, the local run-records source,
play sessions and the replay websocket. The HTTP/WS contract is docs/API.md."""

__all__ = ["__version__"]

__version__ = "0.1.0"
