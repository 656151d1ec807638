"""A misbehaving front for a plain-HTTP registry, for the pull tests' bad
cases. Run in the daemon's network namespace:

    python3 regproxy.py LISTEN_PORT UPSTREAM_PORT MODE LOG [ARG]

MODE pass      forward everything
     cut       the first blob download is cut after ARG bytes of response
     stall     the first blob download stops sending after ARG bytes (and
               holds the connection for 60 s)
     redirect  blob downloads are answered 307 to ARG + the request path
     corrupt   blob bodies have one byte flipped (same length)
     manifest  manifest requests are answered with the file ARG = PATH|TYPE

Each request's first line, and whether it carried Authorization and Range,
goes to LOG as one JSON object per line. One request per connection (the
clients send Connection: close)."""
import asyncio
import json
import sys

listen_port, upstream_port, mode, log_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
arg = sys.argv[5] if len(sys.argv) > 5 else ""
state = {"blob_done": False, "blobs": 0}


def log(entry):
    with open(log_path, "a") as f:
        f.write(json.dumps(entry) + "\n")


async def read_head(reader):
    data = b""
    while b"\r\n\r\n" not in data:
        if data and not data[:1].isalpha():
            return b"", b""  # not HTTP (a TLS ClientHello): hang up, as a plain server would
        chunk = await reader.read(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


async def handle(client_r, client_w):
    try:
        head, rest = await read_head(client_r)
        if not head:
            return
        lines = head.decode("latin-1").split("\r\n")
        first = lines[0]
        headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        method, path = (first.split(" ") + ["", ""])[:2]
        is_blob = method == "GET" and "/blobs/sha256:" in path
        if is_blob:
            state["blobs"] += 1
        log({"line": first, "auth": "authorization" in headers, "range": headers.get("range", "")})
        if mode == "redirect" and is_blob:
            base, repo = arg.split("|", 1)
            target = base + repo + path[path.index("/blobs/"):]
            client_w.write(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\n"
                           "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await client_w.drain()
            return
        if mode == "manifest" and "/manifests/" in path:
            file, ctype = arg.split("|", 1)
            body = open(file, "rb").read()
            client_w.write(f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                           "Connection: close\r\n\r\n".encode() + (b"" if method == "HEAD" else body))
            await client_w.drain()
            return
        up_r, up_w = await asyncio.open_connection("127.0.0.1", upstream_port)
        up_w.write(head + rest)
        await up_w.drain()

        async def upstream_body():
            while True:
                chunk = await client_r.read(65536)
                if not chunk:
                    break
                up_w.write(chunk)
                await up_w.drain()
        pump = asyncio.ensure_future(upstream_body())
        # The first blob response longer than ARG bytes (not the config).
        special = is_blob and not state["blob_done"] and mode in ("cut", "stall")
        limit = int(arg) if special else None
        sent = 0
        resp_head_seen = False
        buf = b""
        while True:
            chunk = await up_r.read(65536)
            if not chunk:
                break
            if mode == "corrupt" and is_blob and state["blobs"] > 1:  # a layer, not the config
                buf += chunk
                if not resp_head_seen and b"\r\n\r\n" in buf:
                    resp_head_seen = True
                    h, _, body = buf.partition(b"\r\n\r\n")
                    if body:
                        body = bytes([body[0] ^ 0xFF]) + body[1:]
                    chunk = h + b"\r\n\r\n" + body
                    buf = b""
                elif not resp_head_seen:
                    continue
            if limit is not None and sent + len(chunk) > limit and not state["blob_done"]:
                state["blob_done"] = True
                client_w.write(chunk[:limit - sent])
                await client_w.drain()
                if mode == "stall":
                    await asyncio.sleep(60)
                break
            client_w.write(chunk)
            await client_w.drain()
            sent += len(chunk)
        pump.cancel()
        up_w.close()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            client_w.close()
        except Exception:
            pass


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()

asyncio.run(main())
