#!/bin/sh
# The proxy's start: refuse placeholder secrets, hash the operators' passwords, make a self-signed certificate when
# none is provided (/certs/tls.crt and tls.key: mount your own there), then nginx in the foreground, unprivileged.
set -eu
taxi-secrets check PROXY_USERS MLFLOW_READER_PASSWORD
mkdir -p /tmp/proxy
umask 077
taxi-secrets htpasswd PROXY_USERS > /tmp/proxy/htpasswd
reader=$(printf '%s:%s' "${MLFLOW_READER_USERNAME:-reader}" "$MLFLOW_READER_PASSWORD" | base64 -w0)
sed "s|@MLFLOW_READER_AUTH@|$reader|" /etc/taxi-proxy/nginx.conf > /tmp/proxy/nginx.conf
if [ ! -s /certs/tls.crt ] || [ ! -s /certs/tls.key ]; then
  host="${TAXI_PUBLIC_HOST:-localhost}"
  openssl req -x509 -newkey rsa:3072 -nodes -days 825 -subj "/CN=$host" \
    -addext "subjectAltName=DNS:$host,DNS:localhost,DNS:proxy,IP:127.0.0.1" \
    -keyout /certs/tls.key -out /certs/tls.crt 2>/dev/null
  echo "proxy: self-signed certificate made for $host (replace /certs/tls.crt and tls.key with your own)"
fi
echo "proxy: certificate $(openssl x509 -in /certs/tls.crt -noout -fingerprint -sha256)"
exec nginx -c /tmp/proxy/nginx.conf -g 'daemon off;'
