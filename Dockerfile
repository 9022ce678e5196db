# One image for every service; the command picks the service.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY simulators ./simulators
COPY omni2qbd ./omni2qbd
RUN pip install . && useradd --system --uid 10001 omni2qbd
USER omni2qbd
# Healthchecks in docker-compose.yml call /readyz with Python (no curl in slim images).
CMD ["omni2qbd", "--help"]
