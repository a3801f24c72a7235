# syntax=docker/dockerfile:1
#
# The ece-restart-operator image. Build from the repository root:
#
#   docker build -t ghcr.io/ece-restart-operator/ece-restart-operator:0.1.0 .
#
# Two stages: "build" installs the package and its dependencies (binary wheels) into a virtual environment;
# the final stage copies only that environment onto the same slim Python base: no compiler, no pip, no sources.
# Both stages use the same base image, pinned by version (literal, so scanners and update bots can read it);
# release pipelines should also pin it by digest (python:<tag>@sha256:...).

FROM python:3.12.12-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
# Only what the wheel needs (see .dockerignore): the project metadata, the package, and the CRD and examples that
# pyproject.toml force-includes as package data.
COPY pyproject.toml README.md ./
COPY charts/ece-restart-operator/files/crd.yaml charts/ece-restart-operator/files/crd.yaml
COPY examples examples
COPY operator/ece_restart operator/ece_restart
RUN /opt/venv/bin/pip install --only-binary=:all: --no-compile . \
    && /opt/venv/bin/pip uninstall --yes pip \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM python:3.12.12-slim-bookworm
LABEL org.opencontainers.image.title="ece-restart-operator" \
      org.opencontainers.image.description="Restarts Elastic Cloud Enterprise deployment resources from ResourceRestart objects" \
      org.opencontainers.image.source="https://github.com/ece-restart-operator/ece-restart-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
# Drop the base image's own installer tooling from the runtime stage as well.
RUN python -m pip uninstall --yes pip setuptools wheel || true
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /tmp
# A fixed, non-root UID/GID above 10000 (the chart runs with the same IDs and a read-only root filesystem).
USER 65532:65532
EXPOSE 8080 9090
# Kubernetes uses the chart's probes; this is for `docker run`.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["python", "-m", "ece_restart", "run"]
