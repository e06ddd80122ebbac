# sse-bridge in a container. Multi-stage: the build stage installs the build dependencies with
# the same script CI and the README use (scripts/install-deps.sh), the runtime stage only the
# shared libraries the daemon links, and runs it as a non-root user.
#   docker build -t sse-bridge .                         the bridge (default target)
#   docker build --target publisher -t sse-publisher .   the demo publisher (docker-compose.yml)

FROM debian:12-slim AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
# The daemon needs only these: tools and tests are off in a tree without them (CMakeLists.txt).
COPY CMakeLists.txt ./
COPY include include
COPY bridge bridge
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSSE_BRIDGE_TOOLS=OFF -DBUILD_TESTING=OFF && \
    cmake --build build -j "$(nproc)" --target sse-bridge

FROM debian:12-slim AS publisher
COPY scripts/install-deps.sh /opt/sse-bridge/scripts/install-deps.sh
RUN /opt/sse-bridge/scripts/install-deps.sh --publisher && rm -rf /var/lib/apt/lists/*
COPY examples/publisher.sh /usr/local/bin/publisher.sh
RUN useradd --system --uid 10002 publisher
USER publisher
ENTRYPOINT ["publisher.sh"]

FROM debian:12-slim AS runtime
COPY scripts/install-deps.sh /opt/sse-bridge/scripts/install-deps.sh
RUN /opt/sse-bridge/scripts/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/sse-bridge /usr/local/bin/sse-bridge
COPY examples /etc/sse-bridge
RUN useradd --system --uid 10001 sse-bridge
USER sse-bridge
ENV LISTEN=0.0.0.0:8080
EXPOSE 8080
# No curl in the image: bash's /dev/tcp asks /healthz, which answers 200 while upstreams are up,
# on the port LISTEN names (what follows its last ':').
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${LISTEN##*:} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["sse-bridge"]
CMD ["--config", "/etc/sse-bridge/demo.ini"]
