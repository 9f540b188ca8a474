"""gunicorn's settings file: gunicorn reads ./gunicorn.conf.py from its working directory at every start of the portal
(docker-compose.yml's web service and the Dockerfile's CMD in /app, scripts/stack.py and bench/webserver.py in the
checkout). Their command lines keep choosing the bind, workers, threads and timeout; this file adds the hooks.

post_worker_init: once a worker has loaded the app (Django set up, the URLconf and middleware built: ~230,000 objects),
gc.freeze() takes all of it out of the garbage collector's reach. Without it, a full collection (generation 2) comes
about every 1,400 never-seen searches per worker and walks every one of those objects: ~160 ms in which the worker's
threads stand still (bench/overhead.py --gc; 0.1 ms a request on average). Frozen, a full collection walks only what
the requests have kept since. (A higher generation-0 threshold was measured too and saved nothing: the collections
then find the same cyclic garbage of the requests, later and in larger batches.)"""

import gc


def post_worker_init(worker):
    gc.collect()  # what loading left as garbage is freed, not frozen
    gc.freeze()
