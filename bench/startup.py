#!/usr/bin/env python3
"""Start-up of `arca server -dev` to its first answered request, N times: median, min, max.

    bench/startup.py [--plugin-dir DIR] [N]     (binary: target/release/arca, or $ARCA)
    bench/startup.py --idle-rss [N]             idle RSS instead, 3 s after the first answer

Each start is timed from spawn to the first `GET /v1/sys/health` answered over a fresh
connection (polled every 0.5 ms); the server is then killed. With --plugin-dir, the server gets
`-dev-plugin-dir DIR` (it registers and mounts every plugin in DIR before it listens).
With --idle-rss, each server is left alone for 3 s after its first answer and its resident set
is read from /proc/<pid>/status: in all (`VmRSS`), the binary's and libraries' pages
(`RssFile`) and the rest (`RssAnon`), in MiB.
"""
import os
import socket
import statistics
import subprocess
import sys
import time


IDLE_SETTLE_S = 3


def first_answer_ms(binary, port, extra, idle=None):
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
                        took = (time.perf_counter() - start) * 1000
                        if idle is not None:
                            time.sleep(IDLE_SETTLE_S)
                            idle.append(rss_mib(proc.pid))
                        return took
            except OSError:
                time.sleep(0.0005)
    finally:
        proc.kill()
        proc.wait()


def rss_mib(pid):
    """VmRSS, RssFile and RssAnon of a process, in MiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssFile", "RssAnon"):
                fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["RssFile"], fields["RssAnon"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    args = sys.argv[1:]
    extra = []
    idle = None
    if args[:1] == ["--idle-rss"]:
        idle = []
        args = args[1:]
    elif args[:1] == ["--plugin-dir"]:
        extra = [f"-dev-plugin-dir={args[1]}"]
        args = args[2:]
    n = int(args[0]) if args else 20
    binary = os.environ.get("ARCA", "target/release/arca")
    times = [first_answer_ms(binary, free_port(), extra, idle) for _ in range(n)]
    if idle is not None:
        for name, i in (("VmRSS", 0), ("RssFile", 1), ("RssAnon", 2)):
            values = [r[i] for r in idle]
            print(f"idle {name} of {n} servers: median {statistics.median(values):.1f} MiB, "
                  f"min {min(values):.1f}, max {max(values):.1f}")
        return
    print(f"{n} starts{' with ' + extra[0] if extra else ''}: median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f}, max {max(times):.1f}")


if __name__ == "__main__":
    main()
