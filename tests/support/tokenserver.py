"""A small token server for the distribution registry's bearer-token auth
(the docker token spec): GET /token with basic credentials (and
offline_token=true for a refresh token), POST /token with a refresh-token
grant. Tokens are RS256 JWTs carrying the signing certificate in x5c, signed
with `openssl dgst` (the registry trusts the certificate through its
rootcertbundle). Every request goes to LOG as a JSON line.

    python3 tokenserver.py PORT KEY.pem CERT.pem ISSUER SERVICE USER:PASSWORD LOG
"""
import base64
import http.server
import json
import os
import subprocess
import sys
import time
import urllib.parse

port, key, cert, issuer, service, userpass, log_path = sys.argv[1:8]
USER, PASSWORD = userpass.split(":", 1)
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], capture_output=True,
                     check=True).stdout
X5C = base64.b64encode(der).decode()
refresh_tokens = {}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(subject, scopes):
    access = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) == 3 and parts[0] == "repository" and subject:
            access.append({"type": "repository", "name": parts[1], "actions": parts[2].split(",")})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    claims = {"iss": issuer, "sub": subject, "aud": service, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": os.urandom(8).hex(), "access": access}
    signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing.encode(),
                         capture_output=True, check=True).stdout
    return signing + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def record(self, entry):
        with open(log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        scopes = q.get("scope", [])
        auth = self.headers.get("Authorization", "")
        self.record({"method": "GET", "basic": auth.startswith("Basic "), "scopes": scopes,
                     "offline": q.get("offline_token", [""])[0]})
        subject = ""
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if (user, pw) != (USER, PASSWORD):
                return self.answer(401, {"details": "incorrect username or password"})
            subject = user
        doc = {"token": jwt(subject, scopes), "expires_in": 300}
        if q.get("offline_token", [""])[0] == "true" and subject:
            rt = os.urandom(16).hex()
            refresh_tokens[rt] = subject
            doc["refresh_token"] = rt
        self.answer(200, doc)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        self.record({"method": "POST", "grant": form.get("grant_type", [""])[0],
                     "scopes": form.get("scope", [])})
        subject = refresh_tokens.get(form.get("refresh_token", [""])[0])
        if form.get("grant_type", [""])[0] != "refresh_token" or not subject:
            return self.answer(401, {"details": "invalid refresh token"})
        self.answer(200, {"access_token": jwt(subject, form.get("scope", [])), "expires_in": 300,
                          "refresh_token": form["refresh_token"][0]})


http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
