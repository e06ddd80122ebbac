#!/bin/sh
# A self-signed test certificate for examples/proxy/nginx.conf (docker-compose.proxy.yml):
# examples/proxy/certs/{cert,key}.pem, valid 30 days for localhost and 127.0.0.1. For anything
# but a local test use a real certificate (e.g. from Let's Encrypt) in the same two files.
#   examples/proxy/make-cert.sh          makes them unless they exist
#   examples/proxy/make-cert.sh --force  makes new ones
set -eu
dir=$(dirname "$0")/certs
if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && [ "${1:-}" != --force ]; then
    echo "make-cert: $dir/cert.pem exists (--force makes a new one)"
    exit 0
fi
mkdir -p "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
# nginx's master reads them as root: the key may stay readable by its owner only.
chmod 644 "$dir/cert.pem"
echo "make-cert: $dir/cert.pem and key.pem (self-signed, localhost and 127.0.0.1, 30 days)"
