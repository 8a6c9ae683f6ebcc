"""FlowMaestro project package: settings, ASGI app, URLs and the Celery app."""
