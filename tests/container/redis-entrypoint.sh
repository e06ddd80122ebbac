#!/bin/sh
# The entry point of the redis:7 stand-in (redis.Containerfile). As the official image's: a
# command that starts with an option or a .conf file is redis-server's. Protected mode is off by
# default, as it is compiled in the official image; a config file or an option given to the
# container still overrides it (redis-server applies its arguments in order).
set -e
case "${1:-}" in
-* | *.conf) set -- redis-server "$@" ;;
esac
if [ "${1:-}" = redis-server ]; then
    shift
    if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
        conf=$1
        shift
        set -- redis-server "$conf" --protected-mode no "$@"
    else
        set -- redis-server --protected-mode no "$@"
    fi
fi
exec "$@"
