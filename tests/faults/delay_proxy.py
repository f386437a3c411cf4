"""A TCP proxy that makes a link slow and lossy, for hosts without the netem qdisc.

  python3 delay_proxy.py TARGET_PORT DELAY_MS LOSS_PERCENT

Listens on 127.0.0.1 (a free port, printed on stdout), forwards every connection to
127.0.0.1:TARGET_PORT and holds each chunk DELAY_MS in each direction; with probability
LOSS_PERCENT a chunk waits 3x longer, as a lost segment waits for its retransmission
(what loss looks like above TCP). Order within a connection is kept.
"""
import asyncio
import random
import sys


async def pump(reader, writer, delay, loss):
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            wait = delay * (4 if random.random() < loss else 1)
            await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    target, delay_ms, loss_pct = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    delay, loss = delay_ms / 1000.0, loss_pct / 100.0

    async def handle(r1, w1):
        try:
            r2, w2 = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            w1.close()
            return
        await asyncio.gather(pump(r1, w2, delay, loss), pump(r2, w1, delay, loss))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
