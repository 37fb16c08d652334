"""A small event source for wiretape's SSE tests (plain http.server, no packages).

GET /events without Last-Event-ID sends two events (ids 1 and 2, retry 100 ms)
and then drops the connection. With Last-Event-ID it sends one event naming
the ID it resumed from, and drops again; after that (third request) it
answers 204, which tells the client to stop. Each request's Last-Event-ID is
also logged to stdout, one line per request.
Usage: sse_server.py PORT
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEEN = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != "/events":
            self.send_error(404)
            return
        last = self.headers.get("Last-Event-ID")
        SEEN.append(last)
        print(f"last-event-id: {last}", flush=True)
        if len(SEEN) > 2:
            self.send_response(204)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if last is None:
            chunks = [
                "retry: 100\nid: 1\nevent: greeting\ndata: hello\ndata: world\n\n",
                ": keep-alive comment\n\nid: 2\ndata: second\n\n",
            ]
        else:
            chunks = [f"id: 3\ndata: resumed after {last}\n\n"]
        for chunk in chunks:
            self.wfile.write(chunk.encode())
            self.wfile.flush()
        # Then the connection drops: the handler returns and the socket closes.


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
