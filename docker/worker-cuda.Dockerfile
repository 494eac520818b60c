# sr2-worker image for NVIDIA GPUs. Debian's libtorch is CPU-only, so this image builds against
# a CUDA libtorch from pytorch.org on an NVIDIA CUDA base image (Ubuntu 24.04, whose gRPC
# 1.51, Abseil 20220623 and protobuf 3.21 are the versions Debian 12 ships). Build from the
# repository root wherever the base image and a CUDA libtorch are reachable:
#   docker build -f docker/worker-cuda.Dockerfile -t sr2-worker-cuda:0.1.0 .
# Offline: put the libtorch zip at docker/libtorch-cuda.zip (it is used instead of the URL).
FROM nvidia/cuda:12.6.3-cudnn-devel-ubuntu24.04 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config binutils curl unzip ca-certificates \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libabsl-dev prometheus-cpp-dev libcurl4-openssl-dev libsqlite3-dev \
      nlohmann-json3-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
# A cxx11-ABI libtorch built for the base image's CUDA major version.
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu126/libtorch-cxx11-abi-shared-with-deps-2.6.0%2Bcu126.zip
# The glob keeps the COPY valid when no local zip exists (runtime-packages.sh always matches).
COPY docker/runtime-packages.sh docker/libtorch*.zip /tmp/libtorch-src/
RUN if [ -f /tmp/libtorch-src/libtorch-cuda.zip ]; then \
      cp /tmp/libtorch-src/libtorch-cuda.zip /tmp/libtorch.zip; \
    else \
      curl -fsSL -o /tmp/libtorch.zip "${LIBTORCH_URL}"; \
    fi \
 && unzip -q /tmp/libtorch.zip -d /opt \
 && rm -rf /tmp/libtorch.zip /tmp/libtorch-src
WORKDIR /src
COPY . .
ARG BUILD_JOBS=""
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSR2_BUILD_TESTS=OFF \
      -DCMAKE_PREFIX_PATH=/opt/libtorch \
 && ninja -C /build ${BUILD_JOBS:+-j${BUILD_JOBS}} sr2-worker \
 && RUNTIME_PACKAGES_SKIP=/opt/libtorch docker/runtime-packages.sh /build/bin/sr2-worker \
      > /build/runtime-packages.txt

FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
ARG DEBIAN_FRONTEND=noninteractive
COPY --from=build /build/runtime-packages.txt /tmp/runtime-packages.txt
# Runtime packages of the non-torch dependencies; libtorch brings its own (with-deps build).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --gid 10001 sr2 \
 && useradd --uid 10001 --gid sr2 --no-create-home --shell /usr/sbin/nologin sr2
COPY --from=build /opt/libtorch/lib /opt/libtorch/lib
COPY --from=build /build/bin/sr2-worker /usr/local/bin/
ENV LD_LIBRARY_PATH=/opt/libtorch/lib
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/sr2-worker"]
CMD ["--coordinator", "sr2-coordinator:7070", "--metrics-listen", "0.0.0.0:9464", "--device", "cuda:0"]
