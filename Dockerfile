# The tpo-tasks image: the tpo console script and its read-only status endpoint.
ARG PYTHON_VERSION=3.11.10

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tpo_tasks ./tpo_tasks
COPY templates ./templates
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir .

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG REVISION=unknown
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TPO_REVISION=$REVISION
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin tpo
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["python", "-m", "tpo_tasks.status_server", "--host", "0.0.0.0", "--port", "8080"]
