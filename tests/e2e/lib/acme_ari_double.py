#!/usr/bin/python3
"""acme_ari_double.py — a test double of ACME renewal information (RFC 9773)
in front of a CA without it (Debian's pebble 2.4 has no renewalInfo).

  acme_ari_double.py LISTEN_IP PORT CERT KEY UPSTREAM_DIR CA_BUNDLE CONFIG LOG

GET /dir answers the upstream directory with "renewalInfo" added (every
other URL in it still names the upstream CA, so the orders go there);
GET /renewalInfo/<CertID> answers a suggestedWindow chosen by the
certificate's serial in CONFIG ({"SERIAL-HEX": "inside" | "outside" |
"past"}, read at each request; anything else: "outside"), relative to now:
  inside   the window opened 30 days ago and ends in a minute
  outside  the window opens in 30 days
  past     the window ended a day ago (a mass revocation)
with Retry-After: 21600. Each renewalInfo request is logged as
"SERIAL-HEX MODE" to LOG."""
import base64
import datetime
import http.server
import json
import ssl
import sys
import urllib.request

ip, port, cert, key, upstream, bundle, config, log = sys.argv[1:9]
WINDOWS = {"inside": (-30 * 86400, 60), "outside": (30 * 86400, 32 * 86400),
           "past": (-3 * 86400, -86400)}


def rfc3339(offset):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def serial_hex(cert_id):
    part = cert_id.split(".")[1]
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return format(int.from_bytes(raw, "big"), "x")


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/dir":
            ctx = ssl.create_default_context(cafile=bundle)
            with urllib.request.urlopen(upstream, context=ctx, timeout=10) as r:
                d = json.load(r)
            d["renewalInfo"] = "https://%s:%s/renewalInfo/" % (ip, port)
            self.answer(200, d)
            return
        if self.path.startswith("/renewalInfo/"):
            try:
                serial = serial_hex(self.path[len("/renewalInfo/"):])
            except (ValueError, IndexError):
                self.answer(400, {"type": "urn:ietf:params:acme:error:malformed"})
                return
            with open(config) as f:
                mode = json.load(f).get(serial, "outside")
            if mode not in WINDOWS:
                mode = "outside"
            with open(log, "a") as f:
                f.write("%s %s\n" % (serial, mode))
            start, end = WINDOWS[mode]
            self.answer(200, {"suggestedWindow": {"start": rfc3339(start), "end": rfc3339(end)}},
                        [("Retry-After", "21600")])
            return
        self.answer(404, {"type": "urn:ietf:params:acme:error:malformed"})

    def log_message(self, fmt, *args):
        pass


server = http.server.ThreadingHTTPServer((ip, int(port)), Handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(cert, key)
server.socket = tls.wrap_socket(server.socket, server_side=True)
server.serve_forever()
