# syntax=docker/dockerfile:1
# The LightningTrack API: `docker build -t lightningtrack .`, then see compose.yaml.
# The PostgreSQL client tools (pg_dump, pg_restore) are Debian bookworm's, version 15: pair
# them with a PostgreSQL server of version 15 (or install a newer client for a newer one).

FROM python:3.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir "uv>=0.8,<1"
WORKDIR /app
# Dependencies first, from the lock file alone, so that a code change reuses this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY lightningtrack ./lightningtrack
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/lightningtrack \
        --create-home --shell /usr/sbin/nologin lightningtrack
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LT_DATA_DIR=/var/lib/lightningtrack \
    LT_HOST=0.0.0.0 \
    LT_PORT=8000
USER lightningtrack
WORKDIR /var/lib/lightningtrack
VOLUME ["/var/lib/lightningtrack"]
EXPOSE 8000 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["lightningtrack", "serve"]
