"""paymux.app: the HTTP API (FastAPI factories), the buyer status page, and the CLI."""

from paymux.app.factory import create_app, create_router
from paymux.app.runtime import PaymuxRuntime, create_runtime

__all__ = ["PaymuxRuntime", "create_app", "create_router", "create_runtime"]
