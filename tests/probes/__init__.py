"""Routes that exist only in the test app, to drive platform mechanisms through real requests.

Every module here that defines `blp` (a Blueprint) is registered on the session's app before its
first request; add a module to add probes.
"""

import importlib
import pkgutil


def register_all(app):
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        blueprint = getattr(module, "blp", None)
        if blueprint is not None:
            app.register_blueprint(blueprint)
