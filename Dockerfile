# The sigdrain image, for users with a registry: `docker build -t REGISTRY/sigdrain:VERSION .` (or `podman build`).
# Without a registry `make image` (scripts/image/build-image.sh) builds the same image with debootstrap. Both
# install the build dependencies with scripts/setup.sh and the runtime ones from scripts/image/runtime-packages.
# Any Debian image of the suite will do, e.g. from a mirror: --build-arg DEBIAN_IMAGE=mirror.example/debian:bookworm
ARG DEBIAN_IMAGE=debian:bookworm
ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
COPY scripts/lib/ scripts/lib/
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DSIGDRAIN_TESTS=OFF \
    && cmake --build /build -j "$(nproc)" --target sigdrain \
    && objcopy --strip-debug /build/sigdrain /sigdrain

FROM ${DEBIAN_SLIM_IMAGE}
COPY scripts/image/runtime-packages /tmp/runtime-packages
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(sed 's/#.*//' /tmp/runtime-packages) \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages
COPY --from=build /sigdrain /usr/bin/sigdrain
COPY deploy/daemon.conf /etc/sigdrain/daemon.conf
LABEL org.opencontainers.image.title=sigdrain
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/sigdrain"]
CMD ["daemon", "--config", "/etc/sigdrain/daemon.conf"]
