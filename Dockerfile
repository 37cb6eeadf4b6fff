# One image for the web server, the workers and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    INVENTORY_AI_VAR_DIR=/var/lib/inventory-ai \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
RUN useradd --system --home-dir /app inventory \
    && mkdir -p /var/lib/inventory-ai \
    && chown inventory /var/lib/inventory-ai \
    && DEBUG=1 python manage.py collectstatic --noinput --verbosity 0
USER inventory

EXPOSE 8000
CMD ["gunicorn", "-c", "python:inventory_ai.gunicorn_conf", "inventory_ai.wsgi"]
