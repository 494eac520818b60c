# sr2-worker image for CPU nodes (Debian's libtorch 1.13 with OpenBLAS/OpenMP). Build from the
# repository root:
#   docker build -f docker/worker-cpu.Dockerfile -t sr2-worker-cpu:0.1.0 .
FROM debian:bookworm AS build
# scripts/install-deps.sh's package list without the test-only libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config binutils \
      libtorch-dev libopenblas0-openmp \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libabsl-dev prometheus-cpp-dev libcurl4-openssl-dev libsqlite3-dev \
      nlohmann-json3-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG BUILD_JOBS=""
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSR2_BUILD_TESTS=OFF \
 && ninja -C /build ${BUILD_JOBS:+-j${BUILD_JOBS}} sr2-worker \
 && docker/runtime-packages.sh /build/bin/sr2-worker > /build/runtime-packages.txt

FROM debian:bookworm-slim
COPY --from=build /build/runtime-packages.txt /tmp/runtime-packages.txt
# libopenblas0-openmp: the BLAS that libtorch's libblas.so.3 resolves to (an alternative, so
# it does not show up as a direct dependency).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-openmp ca-certificates \
      $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --gid 10001 sr2 \
 && useradd --uid 10001 --gid sr2 --no-create-home --shell /usr/sbin/nologin sr2
COPY --from=build /build/bin/sr2-worker /usr/local/bin/
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/sr2-worker"]
CMD ["--coordinator", "sr2-coordinator:7070", "--metrics-listen", "0.0.0.0:9464"]
