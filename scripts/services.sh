#!/usr/bin/env bash
# Makes sure the local services the tests talk to are up: RabbitMQ (5672) with its management
# API (15672), which the rabbitmq secrets engine's tests use. Starts what is down with the
# machine's own commands; a service that cannot be started is reported, and its tests then fail.
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
