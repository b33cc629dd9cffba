#!/usr/bin/env python3
"""pgdelay.py — a PostgreSQL server that answers late: a proxy between
libpq and a server's unix socket that holds every chunk, in each
direction, for DELAY milliseconds before passing it on (in order), so a
round trip costs 2 x DELAY more -- a database across a WAN, without netem
or a network namespace (the lab's server listens on a unix socket only).

usage: pgdelay.py LISTEN_DIR SERVER_DIR DELAY_MS
  listens on LISTEN_DIR/.s.PGSQL.5432 (a libpq URI then says
  host=LISTEN_DIR) and connects each client to SERVER_DIR/.s.PGSQL.5432.
Runs until killed. Used by contrib/bench/pg_latency.sh.
"""
import asyncio
import os
import sys

SOCK = ".s.PGSQL.5432"


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk DELAY seconds after it came."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def later():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(later())
    try:
        while True:
            data = await reader.read(65536)
            queue.put_nowait((loop.time() + delay, data or None))
            if not data:
                break
    except ConnectionError:
        queue.put_nowait((loop.time(), None))
    try:
        await sender
    except ConnectionError:
        pass


async def main(listen_dir, server_dir, delay_ms):
    delay = delay_ms / 1000.0
    path = os.path.join(listen_dir, SOCK)
    if os.path.exists(path):
        os.unlink(path)

    async def client(creader, cwriter):
        try:
            sreader, swriter = await asyncio.open_unix_connection(os.path.join(server_dir, SOCK))
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pump(creader, swriter, delay), pump(sreader, cwriter, delay))

    server = await asyncio.start_unix_server(client, path=path)
    os.chmod(path, 0o777)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
