"""ASGI entry point: HTTP through Django (its synchronous handler on long-lived threads,
see `flowmaestro.sync_http`), websockets through Channels.

With `FLOWMAESTRO_ENGINE_IN_PROCESS` (the default) the engine starts here, inside the
daphne process, so `make run` is one process; deployments set it to false and run
`manage.py runengine` separately.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowmaestro.settings")
django_asgi_app = get_asgi_application()
django_wsgi_app = get_wsgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from engine.live import frames  # noqa: E402
from engine.live.routing import websocket_urlpatterns  # noqa: E402
from flowmaestro import affinity  # noqa: E402
from flowmaestro.database_check import refuse_unreachable_database  # noqa: E402
from flowmaestro.deployment import refuse_insecure_start  # noqa: E402
from flowmaestro.secret_paths import redact_daphne_access_log  # noqa: E402
from flowmaestro.sync_http import (  # noqa: E402
    ThreadedWsgi,
    skip_discarded_twisted_access_log,
    skip_twisted_form_parsing,
)

refuse_insecure_start()  # never serve on the public development key
refuse_unreachable_database("daphne")  # one line now, not a 30 s wait per request
# Before any thread of the server or the engine starts: they inherit the main thread's mask.
affinity.pin_process_threads(settings.FLOWMAESTRO_PIN_THREADS)

# Websockets are served from this process: let daphne take prebuilt frames
# (engine.live.frames), so a batch of events is one write per client. Installed here, where the
# server is chosen, not as a side effect of importing the consumers.
frames.install()
skip_twisted_form_parsing()
skip_discarded_twisted_access_log()
redact_daphne_access_log()  # webhook tokens stay out of daphne's access log

application = ProtocolTypeRouter(
    {
        "http": ThreadedWsgi(django_wsgi_app, django_asgi_app, settings.FLOWMAESTRO_HTTP_THREADS),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

if settings.FLOWMAESTRO_ENGINE_IN_PROCESS:
    from engine.runtime import start_engine  # noqa: E402

    start_engine()
