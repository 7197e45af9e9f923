# The fxticker image: one Python environment for migrate, the web tier (gunicorn) and the scheduler.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --home-dir /app --shell /usr/sbin/nologin fxticker
WORKDIR /app

# Dependencies first, pinned by the lock file, so code changes do not reinstall them.
COPY pyproject.toml requirements.lock README.md ./
COPY fxticker ./fxticker
COPY sql ./sql
# Editable: the migrations are read from /app/sql beside the package (fxticker/storage/observations.py).
RUN pip install -c requirements.lock -e . && fxticker --version

USER fxticker
EXPOSE 8000
# docker-compose.yml sets each service's command; alone, the image serves the web app.
CMD ["fxticker", "serve", "--host", "0.0.0.0", "--port", "8000"]
