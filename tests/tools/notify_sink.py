#!/usr/bin/env python3
# notify_sink.py — where the notification e2e tests (tests/e2e/mail.sh,
# serve_reload.sh) receive what renewd sends.
#
# notify_sink.py starttls|smtps PORT CERTDIR OUTDIR USER PASSWORD: an SMTP
# server (Debian's python3-aiosmtpd) requiring AUTH (starttls: only after
# STARTTLS; smtps: TLS from the first byte); each message saved as
# OUTDIR/MODE-NNN.json (envelope, login, raw content).
# notify_sink.py plain PORT - OUTDIR: an SMTP server with no TLS and no login
# (a local relay).
# notify_sink.py webhook PORT - OUTDIR: an HTTP server saving each POST as
# OUTDIR/webhook-NNN.json (path, Authorization header, JSON body).
# Prints "ready" once listening; stops on SIGTERM.
import http.server, json, os, signal, ssl, sys, threading, warnings
warnings.simplefilter("ignore")
mode, port, certdir, outdir = sys.argv[1:5]
count = [0]


def save(rec):
    count[0] += 1
    with open(os.path.join(outdir, "%s-%03d.json" % (mode, count[0])), "w") as f:
        json.dump(rec, f)


if mode == "webhook":
    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            save({"path": self.path, "authorization": self.headers.get("Authorization"),
                  "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Hook)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
    print("ready", flush=True)
    srv.serve_forever()
    sys.exit(0)

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

user, password = sys.argv[5:7]
if mode != "plain":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(certdir, "server.crt"), os.path.join(certdir, "server.key"))

def auth(server, session, envelope, mechanism, data):
    good = (isinstance(data, LoginPassword) and data.login.decode() == user
            and data.password.decode() == password)
    if good:
        session.renewd_login = user
    return AuthResult(success=good, handled=False)  # not handled: the server answers 535

class Sink:
    async def handle_DATA(self, server, session, envelope):
        save({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
              "login": getattr(session, "renewd_login", None),
              "data": envelope.original_content.decode("utf-8", "backslashreplace")})
        return "250 OK"

kw = dict(hostname="127.0.0.1", port=int(port), authenticator=auth, auth_required=True)
if mode == "plain":
    kw = dict(hostname="127.0.0.1", port=int(port))
elif mode == "smtps":  # aiosmtpd offers AUTH on TLS it did not start itself only so
    kw.update(ssl_context=ctx, auth_require_tls=False)
else:
    kw.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
c = Controller(Sink(), **kw)
c.start()
print("ready", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
c.stop()
