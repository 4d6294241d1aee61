"""A web_server that answers with the X-Forwarded-For header the platform adds."""

import berth

app = berth.App("header-echo")


@app.function()
@berth.web_server(8000)
def server():
    import subprocess
    import sys

    code = """
import http.server

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.headers.get('x-forwarded-for') or '').encode()
        self.send_response(200)
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(('0.0.0.0', 8000), H).serve_forever()
"""
    subprocess.Popen([sys.executable, "-c", code])
