# The deployment's reverse proxy: nginx from Debian's package, TLS, the operators' basic authentication, unprivileged.
# Build with docker/ as the context: docker build -f docker/proxy.Dockerfile -t taxi-fare-proxy docker
ARG BASE=taxi-fare-base:bookworm
FROM ${BASE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends nginx-light openssl >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
    && install -d -o 10001 -g 10001 /certs
COPY proxy/nginx.conf proxy/headers.conf /etc/taxi-proxy/
COPY proxy/start.sh /usr/local/bin/start-proxy
COPY deploy_secrets.py /usr/local/bin/taxi-secrets
USER 10001:10001
EXPOSE 8443
ENTRYPOINT ["tini", "--", "start-proxy"]
