FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
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
# Migrations first, then the bot; both read DATABASE_URL and BOT_TOKEN from the environment.
CMD ["sh", "-c", "python -m bot migrate && MIGRATE_ON_START=false python -m bot run"]
