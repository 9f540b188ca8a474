"""Settings of the simulator's own process (`python -m devtools.pg_simulator`): the portal's, with the
simulator installed and nothing but it routed. It shares Redis (its state) and the keys with the portal."""

import os

os.environ["PG_SIMULATOR"] = "true"

from marketplace.settings import *  # noqa: E402,F403

ROOT_URLCONF = "devtools.pg_simulator.standalone_urls"
