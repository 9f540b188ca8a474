"""gunicorn's settings file: gunicorn reads ./gunicorn.conf.py from its working directory at every start of the portal
(docker-compose.yml's web service and the Dockerfile's CMD in /app, scripts/stack.py and bench/webserver.py in the
checkout). Their command lines keep choosing the bind, workers, threads and timeout; this file adds two hooks.

They take what lives as long as the worker out of the garbage collector's reach (gc.freeze): Django, the project and
the URLconf once the app is loaded (~125,000 objects), and once FREEZE_AGAIN_AFTER_REQUESTS requests have filled the
caches that last (compiled templates, resolved URLs, reference labels: ~110,000 more). Otherwise a full collection
(generation 2), about every 2,000 requests per worker, walks all of them: ~160 ms in which the worker's threads stand
still (bench/overhead.py --gc: 1 in 2,000 never-seen searches unfrozen; 2 of ~90 ms frozen when loaded only; none
frozen after the warm-up). Frozen objects are never collected: cyclic garbage of the requests in flight at the second
freeze stays, once. A higher generation-0 threshold was measured too and cost more (1.3 ms a request instead of 0.7 at
5,000): the collections find the same garbage of the requests, later and in larger batches."""

import gc

FREEZE_AGAIN_AFTER_REQUESTS = 500
_frozen_after_warm_up = False


def post_worker_init(worker):
    gc.collect()  # what loading left as garbage is freed, not frozen
    gc.freeze()


def post_request(worker, req, environ, resp):
    global _frozen_after_warm_up
    if not _frozen_after_warm_up and worker.nr >= FREEZE_AGAIN_AFTER_REQUESTS:
        _frozen_after_warm_up = True
        gc.freeze()
