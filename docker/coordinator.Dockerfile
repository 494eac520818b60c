# sr2-coordinator image (also carries sr2ctl for `kubectl exec`). Build from the repository root:
#   docker build -f docker/coordinator.Dockerfile -t sr2-coordinator:0.1.0 .
# The coordinator does not link libtorch, so the build uses -DSR2_BUILD_WORKER=OFF.
FROM debian:bookworm AS build
# The non-torch part of scripts/install-deps.sh's package list (tests are not built here).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config binutils \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libabsl-dev prometheus-cpp-dev libcurl4-openssl-dev libsqlite3-dev \
      nlohmann-json3-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# BUILD_JOBS empty = ninja's default (all cores).
ARG BUILD_JOBS=""
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSR2_BUILD_WORKER=OFF -DSR2_BUILD_TESTS=OFF \
 && ninja -C /build ${BUILD_JOBS:+-j${BUILD_JOBS}} sr2-coordinator sr2ctl \
 && docker/runtime-packages.sh /build/bin/sr2-coordinator /build/bin/sr2ctl \
      > /build/runtime-packages.txt

FROM debian:bookworm-slim
COPY --from=build /build/runtime-packages.txt /tmp/runtime-packages.txt
# ca-certificates: the S3 store talks HTTPS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --gid 10001 sr2 \
 && useradd --uid 10001 --gid sr2 --home-dir /var/lib/sr2 --shell /usr/sbin/nologin sr2 \
 && install -d -o sr2 -g sr2 /var/lib/sr2
COPY --from=build /build/bin/sr2-coordinator /build/bin/sr2ctl /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/sr2
EXPOSE 7070 9464
ENTRYPOINT ["/usr/local/bin/sr2-coordinator"]
CMD ["--listen", "0.0.0.0:7070", "--state-dir", "/var/lib/sr2/state", "--store", "/var/lib/sr2/store", "--metrics-listen", "0.0.0.0:9464"]
