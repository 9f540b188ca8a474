"""WSGI entry of the simulator's own process (see __main__.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devtools.pg_simulator.standalone_settings")
application = get_wsgi_application()
