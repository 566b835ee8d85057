#!/usr/bin/env bash
# Makes sure the local services the tests talk to are up: RabbitMQ (5672) with its management
# API (15672), which the rabbitmq secrets engine's tests use; PostgreSQL (5432, also its server
# programs, which the database tests run clusters of their own with), MariaDB (3306) and Redis
# (6379), which the database engine's tests use. Starts what is down with the machine's own
# commands; a service that cannot be started is reported, and its tests then fail.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    for _ in $(seq 1 120); do
        port_open "$1" && return 0
        sleep 0.5
    done
    return 1
}

if command -v rabbitmq-server >/dev/null 2>&1; then
    if ! port_open 5672; then
        echo "==> starting RabbitMQ"
        rabbitmq-server -detached || true
        rabbitmqctl await_startup >/dev/null 2>&1 || wait_port 5672 || true
    fi
    if ! port_open 15672; then
        echo "==> enabling RabbitMQ's management API"
        rabbitmq-plugins enable rabbitmq_management >/dev/null || true
        wait_port 15672 || echo "warning: RabbitMQ's management API is not answering on 15672" >&2
    fi
else
    echo "warning: RabbitMQ is not installed; the rabbitmq engine's tests will fail" >&2
fi

if ! port_open 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        echo "==> starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        wait_port 5432 || echo "warning: PostgreSQL is not answering on 5432" >&2
    else
        echo "warning: PostgreSQL is not installed; the database engine's tests will fail" >&2
    fi
fi
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
    echo "warning: PostgreSQL 15's initdb is missing; the database engine's tests will fail" >&2
fi

if ! port_open 3306; then
    if [ -x /usr/sbin/mariadbd ]; then
        echo "==> starting MariaDB"
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
        wait_port 3306 || echo "warning: MariaDB is not answering on 3306" >&2
    else
        echo "warning: MariaDB is not installed; the database engine's tests will fail" >&2
    fi
fi

if ! port_open 6379; then
    if command -v redis-server >/dev/null 2>&1; then
        echo "==> starting Redis"
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
        wait_port 6379 || echo "warning: Redis is not answering on 6379" >&2
    else
        echo "warning: Redis is not installed; the database engine's tests will fail" >&2
    fi
fi
