"""A Python `websockets` server for wiretape's WebSocket tests.

It offers permessage-deflate (the library's default) and the subprotocols
chat.v2 and chat.v1. The message "info" is answered with JSON saying what
was negotiated for this connection (subprotocol, extensions, and the
client's Sec-WebSocket-Extensions offer); any other message is echoed.
Usage: ws_server.py PORT
"""
import asyncio
import json
import sys

from websockets.asyncio.server import serve


async def handler(connection):
    async for message in connection:
        if message == "info":
            await connection.send(json.dumps({
                "subprotocol": connection.subprotocol,
                "extensions": [ext.name for ext in connection.protocol.extensions],
                "offered": connection.request.headers.get("Sec-WebSocket-Extensions"),
            }))
        else:
            await connection.send(message)


async def main(port):
    async with serve(handler, "127.0.0.1", port, subprotocols=["chat.v2", "chat.v1"],
                     compression="deflate", max_size=2**24):
        await asyncio.get_running_loop().create_future()


asyncio.run(main(int(sys.argv[1])))
