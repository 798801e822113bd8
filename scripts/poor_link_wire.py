"""A wire with latency, for scripts/bench-poor-link.sh: copies every Ethernet frame between two
interfaces, each after a fixed one-way delay, in order.

This kernel has no netem, so the delay is added here, per packet, rather than by a TCP proxy:
the device's and the server's TCP stacks then see the full round trip in their own timers
(slow start, loss recovery, retransmission timeouts), as they would on a real link. It runs in
its own network namespace between two veth ends, so the kernel does not route there itself.

    python3 poor_link_wire.py IFACE_A IFACE_B ONE_WAY_DELAY_MS

It prints "ready" once both sockets are bound, and at exit (SIGTERM) what it forwarded. The
interfaces must not hand it frames larger than the MTU or with checksums left to offload:
the script turns TSO/GSO/GRO and checksum offload off on both veth pairs.
"""

import asyncio
import collections
import signal
import socket
import sys

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # a frame this host sent: our own copies going out, not traffic to forward


def open_raw(ifname):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((ifname, ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.setblocking(False)
    return sock


class Direction:
    """Frames read on one interface, waiting their delay before they are sent on the other."""

    def __init__(self, name, source, sink, delay):
        self.name, self.source, self.sink, self.delay = name, source, sink, delay
        self.queue = collections.deque()
        self.waiting = asyncio.Event()
        self.frames = self.bytes = self.send_errors = 0

    def on_readable(self, loop):
        while True:
            try:
                frame, address = self.source.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            if address[2] == PACKET_OUTGOING:
                continue
            self.queue.append((loop.time() + self.delay, frame))
            self.waiting.set()

    async def pump(self, loop):
        while True:
            if not self.queue:
                self.waiting.clear()
                await self.waiting.wait()
                continue
            due, frame = self.queue[0]
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self.queue.popleft()
            try:
                self.sink.send(frame)
                self.frames += 1
                self.bytes += len(frame)
            except OSError:
                self.send_errors += 1


async def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    a_name, b_name, delay_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    loop = asyncio.get_running_loop()
    a, b = open_raw(a_name), open_raw(b_name)
    delay = delay_ms / 1000.0
    directions = [
        Direction(f"{a_name} -> {b_name}", a, b, delay),
        Direction(f"{b_name} -> {a_name}", b, a, delay),
    ]
    for d in directions:
        loop.add_reader(d.source.fileno(), d.on_readable, loop)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pumps = [asyncio.create_task(d.pump(loop)) for d in directions]
    print("ready", flush=True)
    await stop.wait()
    for task in pumps:
        task.cancel()
    for d in directions:
        print(
            f"{d.name}: {d.frames} frames, {d.bytes} bytes forwarded, {d.send_errors} send errors",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
