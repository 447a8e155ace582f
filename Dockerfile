# syntax=docker/dockerfile:1
# One image for every workload; the command chooses. The default serves the web and API;
# the Helm chart (helm/bragabot) runs the others from the same image:
#   python manage.py setup                                     migrations (a hook Job)
#   python manage.py runbots --shard I/N --serve updates       a bot runtime shard
#   python manage.py runbots --serve jobs | --serve dispatch   durable jobs, notifications
#   python manage.py xfeed run                                 X fetching
# The base is pinned by its full version tag; pin its digest too where you build.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: the dependencies from pyproject.toml (no dev extras) in a virtualenv -------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The project installs no package of its own (its code runs from the source roots), so
# this layer changes with pyproject.toml only.
COPY pyproject.toml ./
RUN pip install --no-cache-dir . \
 && pip uninstall --yes bragabot

# --- runtime: the virtualenv and the source roots, owned by root, run by a non-root user
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/platform:/app/tenants:/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
RUN groupadd --system --gid 10001 bragabot \
 && useradd --system --uid 10001 --gid bragabot --no-create-home --home-dir /tmp \
    --shell /usr/sbin/nologin bragabot
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY manage.py pyproject.toml ./
COPY platform/ platform/
COPY tenants/ tenants/
COPY provisioner/ provisioner/
COPY bot_templates/ bot_templates/
# Static files into STATIC_ROOT (/app/.data/static) for a proxy or CDN to serve; the
# settings only parse the database URL here, never connect. Bytecode is compiled now:
# the running containers' root filesystem is read-only.
RUN BRAGABOT_ENV=development DATABASE_URL=postgresql://build.invalid/unused \
    python manage.py collectstatic --noinput --verbosity 0 \
 && python -m compileall -q platform tenants provisioner
USER 10001:10001
EXPOSE 8000
# The web's liveness (config.health); the chart probes /healthz and /readyz itself.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--no-server-header"]
