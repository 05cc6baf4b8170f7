# Build the server, then ship it with the demo data on a slim Debian.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p signalons-server

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/target/release/signalons /usr/local/bin/signalons
COPY data ./data
COPY pwa/dist* ./pwa/dist/
# Photos live in a volume (see docker-compose.yml); the server runs as nobody.
RUN mkdir -p /app/var/photos && chown nobody /app/var/photos
ENV SIGNALONS_BIND=0.0.0.0:8080
EXPOSE 8080
USER nobody
CMD ["signalons", "serve"]
