#!/usr/bin/env python3
"""Start-up of `arca server -dev` to its first answered request, N times: median, min, max.

    bench/startup.py [--plugin-dir DIR] [N]     (binary: target/release/arca, or $ARCA)

Each start is timed from spawn to the first `GET /v1/sys/health` answered over a fresh
connection (polled every 0.5 ms); the server is then killed. With --plugin-dir, the server gets
`-dev-plugin-dir DIR` (it registers and mounts every plugin in DIR before it listens).
"""
import os
import socket
import statistics
import subprocess
import sys
import time


def first_answer_ms(binary, port, extra):
    start = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "server", "-dev", "-dev-root-token-id=root",
         f"-dev-listen-address=127.0.0.1:{port}"] + extra,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                sys.exit(f"the server exited with {proc.returncode} before answering")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(16).startswith(b"HTTP/1.1"):
                        return (time.perf_counter() - start) * 1000
            except OSError:
                time.sleep(0.0005)
    finally:
        proc.kill()
        proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    args = sys.argv[1:]
    extra = []
    if args[:1] == ["--plugin-dir"]:
        extra = [f"-dev-plugin-dir={args[1]}"]
        args = args[2:]
    n = int(args[0]) if args else 20
    binary = os.environ.get("ARCA", "target/release/arca")
    times = [first_answer_ms(binary, free_port(), extra) for _ in range(n)]
    print(f"{n} starts{' with ' + extra[0] if extra else ''}: median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f}, max {max(times):.1f}")


if __name__ == "__main__":
    main()
