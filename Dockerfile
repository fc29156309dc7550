# One image for the web app, the migrations and the workers.
#
# torch is installed first, from the index that TORCH_INDEX names, so that installing the project
# afterwards finds its torch requirement met: the CPU wheels by default (web, migrate,
# worker-cpu), a CUDA index for the GPU worker (docker-compose.yml passes one).
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BNLAB_INSTANCE=/var/lib/bnlab \
    BNLAB_DATA_DIR=/var/lib/bnlab/data

RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"

WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --create-home --uid 1000 bnlab \
    && mkdir -p /var/lib/bnlab/data \
    && chown -R bnlab /var/lib/bnlab

USER bnlab
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "service.wsgi:app"]
