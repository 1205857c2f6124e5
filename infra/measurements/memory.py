"""Resident memory and throughput of the release local server under failed password logins.

    cargo build --release -p blockauth-local
    python3 infra/measurements/memory.py [binary] [seconds] [overload]

Starts the binary (default target/release/blockauth-local) on a fresh data folder with the
request, failed-login and send limits raised (every client is one IP and one account),
then:
  started  the server's memory before any request;
  signup   one account signed up and confirmed, then one failed login;
  burst    100 failed logins sent at once, on 100 connections;
  settled  the resident memory 5 s after the burst;
  8, 100   failed logins for SECONDS (default 10) from 8, then 100 clients, each on its
           own keep-alive connection, one request after another;
  overload (only when given) OVERLOAD failed logins at once, more than drain within
           the hashing wait: some are answered 503. Not for a build without the
           hashing bound: each would take its own 19 MiB.
Memory is the server's VmRSS (now) and VmHWM (peak) from /proc/<pid>/status, sampled every
20 ms. Prints Markdown tables. Standard library only.
"""

import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BASE = "/auth"
EMAIL = "memory@example.com"
PASSWORD = "Correct-Horse-9-Battery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory(pid):
    """(VmRSS, VmHWM) in MiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


class Server:
    def __init__(self, binary, data):
        self.port = free_port()
        env = dict(
            os.environ,
            BLOCKAUTH_REQUEST_LIMIT="100000",
            BLOCKAUTH_LOGIN_FAILURE_LIMIT="100000",
            BLOCKAUTH_SEND_LIMIT="1000",
        )
        self.process = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--data", data],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.time() + 30
        while not any("serving" in line for line in self.lines):
            if time.time() > deadline or self.process.poll() is not None:
                sys.exit("the server did not start")
            time.sleep(0.05)

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def code(self):
        """The last code the outbox announced (its line may come a moment after the reply)."""
        deadline = time.time() + 10
        while time.time() < deadline:
            for line in reversed(self.lines):
                found = re.search(r"code (\d+)", line)
                if found:
                    return found.group(1)
            time.sleep(0.05)
        sys.exit("no code in the server's output")

    def stop(self):
        self.process.terminate()
        self.process.wait()


def post(connection, path, body):
    connection.request(
        "POST",
        f"{BASE}/{path}",
        body=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    reply = connection.getresponse()
    reply.read()
    return reply.status


def failed_login(connection):
    return post(connection, "login/basic/", {"email": EMAIL, "password": "Wrong-Horse-9-Battery"})


class Sampler:
    """The server's memory every 20 ms, in a thread."""

    def __init__(self, pid):
        self.pid, self.rss_peak, self.running = pid, 0.0, True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            self.rss_peak = max(self.rss_peak, memory(self.pid)[0])
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join()


def burst(port, clients):
    """`clients` failed logins released at once; their statuses and latencies."""
    connections = [http.client.HTTPConnection("127.0.0.1", port) for _ in range(clients)]
    for c in connections:
        c.connect()
    start = threading.Barrier(clients)
    results = [None] * clients

    def one(i):
        start.wait()
        began = time.perf_counter()
        status = failed_login(connections[i])
        results[i] = (status, time.perf_counter() - began)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def sustained(port, clients, seconds):
    """Each client sends failed logins one after another for `seconds`."""
    results, lock = [], threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port)
        mine = []
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            status = failed_login(connection)
            mine.append((status, time.perf_counter() - began))
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def summary(results):
    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    latencies = sorted(ms * 1000 for _, ms in results)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return statuses, statistics.median(latencies), p(0.99), latencies[-1]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/blockauth-local"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    overload = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    with tempfile.TemporaryDirectory() as data:
        server = Server(binary, data)
        pid = server.process.pid
        rows = [("started, idle", *memory(pid), "", "", "", "", "")]
        try:
            setup = http.client.HTTPConnection("127.0.0.1", server.port)
            assert post(setup, "signup/", {"email": EMAIL, "password": PASSWORD}) == 200
            assert post(setup, "signup/confirm/", {"email": EMAIL, "otp": server.code()}) in (200, 201)
            assert failed_login(setup) == 401
            time.sleep(1)
            rows.append(("after signup, idle", *memory(pid), "", "", "", "", ""))

            sampler = Sampler(pid)
            results = burst(server.port, 100)
            sampler.stop()
            statuses, p50, p99, top = summary(results)
            rss, hwm = memory(pid)
            rows.append(("burst of 100", sampler.rss_peak, hwm, "", statuses, p50, p99, top))
            time.sleep(5)
            rows.append(("5 s after the burst", *memory(pid), "", "", "", "", ""))

            for clients in (8, 100):
                sampler = Sampler(pid)
                began = time.perf_counter()
                results = sustained(server.port, clients, seconds)
                elapsed = time.perf_counter() - began
                sampler.stop()
                statuses, p50, p99, top = summary(results)
                rate = f"{len(results) / elapsed:.0f}"
                rows.append(
                    (f"{clients} clients, {seconds:g} s", sampler.rss_peak, memory(pid)[1], rate, statuses, p50, p99, top)
                )
            time.sleep(5)
            rows.append(("5 s after the runs", *memory(pid), "", "", "", "", ""))

            if overload:
                sampler = Sampler(pid)
                results = burst(server.port, overload)
                sampler.stop()
                statuses, p50, p99, top = summary(results)
                rows.append((f"burst of {overload}", sampler.rss_peak, memory(pid)[1], "", statuses, p50, p99, top))
        finally:
            server.stop()

    print("| phase | VmRSS, MiB | VmHWM, MiB | logins/s | statuses | p50, ms | p99, ms | max, ms |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    number = lambda v: f"{v:.0f}" if isinstance(v, float) else str(v)
    for phase, rss, hwm, rate, statuses, p50, p99, top in rows:
        shown = ", ".join(f"{n}×{s}" for s, n in sorted(statuses.items())) if statuses else ""
        print(f"| {phase} | {rss:.0f} | {hwm:.0f} | {rate} | {shown} | {number(p50)} | {number(p99)} | {number(top)} |")


if __name__ == "__main__":
    main()
