"""The operator's dashboard, served by the edge under /dashboard/ on its bare host (routes.py)."""

from services.edge.dashboard.api import Api
from services.edge.dashboard.events import Sampler
from services.edge.dashboard.routes import Dashboard, mounted

__all__ = ["Api", "Dashboard", "Sampler", "mounted"]
