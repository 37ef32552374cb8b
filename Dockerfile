# One image, two commands: `web` (the ASGI server) and `worker` (Celery). See docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LOUPE_DATA_DIR=/data
WORKDIR /app

COPY requirements.txt requirements-nodeps.txt ./
# torch==2.13.0 is the CPU build; for GPU hosts, build with TORCH_INDEX set to the CUDA wheel index
# of the same version (deploy/compose.yaml does for worker-gpu).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --extra-index-url ${TORCH_INDEX} -r requirements.txt \
 && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt

COPY . .
RUN LOUPE_STATIC_FROM_APPS=False python manage.py collectstatic --noinput

EXPOSE 8000
# web:    docker run IMAGE web
# worker: docker run IMAGE worker -Q gpu
ENTRYPOINT ["sh", "-c", "case \"$0\" in \
  web) exec uvicorn portal.asgi:application --host 0.0.0.0 --port 8000 --lifespan off --ws websockets-sansio --no-access-log ;; \
  worker) exec celery -A portal worker \"$@\" ;; \
  *) exec \"$0\" \"$@\" ;; esac"]
CMD ["web"]
