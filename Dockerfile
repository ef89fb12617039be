# The image of compose.yaml: the project with its runtime dependencies and collected static files.
# SECRET_KEY and FIELD_ENCRYPTION_KEYS are given at run time (compose.yaml), never baked in here:
# collectstatic needs neither, and a key in an image layer is a key anyone with the image reads.
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY . .
RUN pip install -e ".[deployment]" && DEBUG=false SECRET_KEY=build-only python manage.py collectstatic --no-input -v0 \
    && useradd --system jobqueue
USER jobqueue
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
