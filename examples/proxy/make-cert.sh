#!/usr/bin/env bash
# A self-signed test certificate for docker-compose.proxy.yml (localhost and 127.0.0.1), valid
# for 30 days: examples/proxy/tls/cert.pem and key.pem, or in the directory given.
set -euo pipefail
dir=${1:-$(dirname "$0")/tls}
mkdir -p "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 644 "$dir/key.pem" "$dir/cert.pem" # read by nginx's workers in the container
echo "make-cert: $dir/cert.pem, $dir/key.pem"
