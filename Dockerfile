FROM python:3.11-slim

# HTTP_PORT: polling mode serves /health, /ready and /metrics too (webhook mode: WEBHOOK_PORT).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HTTP_PORT=8080

WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY locales ./locales
RUN pip install . \
    && pybabel compile -d locales -D messages \
    && useradd --create-home --uid 10001 salesbot \
    && mkdir -p /app/data && chown salesbot /app/data

USER salesbot
VOLUME ["/app/data"]
EXPOSE 8080
# Liveness only; docker-compose.yml probes readiness (/ready) instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "probe"]
# The bot is PID 1 (no shell in between), so SIGTERM reaches it and shutdown is graceful.
# `run` migrates first (MIGRATE_ON_START, under a PostgreSQL advisory lock), then starts.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
