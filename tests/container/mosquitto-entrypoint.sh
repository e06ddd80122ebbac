#!/bin/sh
# The entry point of the eclipse-mosquitto:2 stand-in (mosquitto.Containerfile), as the official
# image's: started as root, it gives /mosquitto to the user mosquitto (a mounted volume may be
# root's), and the broker drops to that user itself.
set -e
if [ "$(id -u)" = 0 ]; then
    chown -R mosquitto:mosquitto /mosquitto/data /mosquitto/log 2>/dev/null || true
fi
exec "$@"
