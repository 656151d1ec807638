"""dind-certgen and dind as scripts use them: generate, refresh, summary, verify, errors."""
import json
import os
import pathlib

from dindtest import binary, certgen, run, tree_state


def summary(certdir):
    return json.loads(certgen(certdir, "summary", "--json").stdout)


def fingerprint(certdir, file):
    return next(c["sha256"] for c in summary(certdir)["certificates"] if c["file"] == file)


def openssl_verify(ca, *certs, purpose=None):
    args = ["openssl", "verify", "-CAfile", str(ca)]
    if purpose:
        args += ["-purpose", purpose]
    return run(args + [str(c) for c in certs], check=False)


def test_no_arguments_generates_the_docker_dind_layout(certdir):
    out = certgen(certdir)
    assert "generated a new CA" in out.stdout
    files = sorted(str(p.relative_to(certdir)) for p in certdir.rglob("*") if p.is_file())
    assert files == ["ca/cert.pem", "ca/key.pem", "client/ca.pem", "client/cert.pem",
                     "client/key.pem", "server/ca.pem", "server/cert.pem", "server/key.pem"]
    assert oct((certdir / "client/key.pem").stat().st_mode & 0o777) == "0o644"
    assert oct((certdir / "server/key.pem").stat().st_mode & 0o777) == "0o600"
    assert oct((certdir / "ca/key.pem").stat().st_mode & 0o777) == "0o600"
    assert certgen(certdir, "verify").stdout.strip().endswith("OK")


def test_openssl_verifies_server_and_client_with_their_purposes(certdir):
    certgen(certdir)
    assert openssl_verify(certdir / "client/ca.pem", certdir / "server/cert.pem", purpose="sslserver").returncode == 0
    assert openssl_verify(certdir / "client/ca.pem", certdir / "client/cert.pem", purpose="sslclient").returncode == 0
    # EKUs are not interchangeable.
    assert openssl_verify(certdir / "client/ca.pem", certdir / "client/cert.pem", purpose="sslserver").returncode != 0
    text = run(["openssl", "x509", "-in", str(certdir / "ca/cert.pem"), "-noout", "-text"]).stdout
    assert "CA:TRUE" in text and "Certificate Sign" in text and "Digital Signature" in text
    server = run(["openssl", "x509", "-in", str(certdir / "server/cert.pem"), "-noout", "-text"]).stdout
    assert "TLS Web Server Authentication" in server
    assert "DNS:docker" in server and "DNS:localhost" in server and "IP Address:127.0.0.1" in server
    assert "sha256" in server.lower()
    client = run(["openssl", "x509", "-in", str(certdir / "client/cert.pem"), "-noout", "-text"]).stdout
    assert "TLS Web Client Authentication" in client


def test_tls_san_env_and_flag_are_added(certdir):
    certgen(certdir, "--san", "IP:10.1.2.3", env={"DOCKER_TLS_SAN": "DNS:dind DNS:my.dind.example"})
    sans = next(c["sans"] for c in summary(certdir)["certificates"] if c["file"] == "server/cert.pem")
    assert {"DNS:dind", "DNS:my.dind.example", "IP:10.1.2.3", "DNS:docker", "DNS:localhost"} <= set(sans)


def test_restart_keeps_ca_reissues_server_and_old_client_still_verifies(certdir, tmp_path):
    certgen(certdir)
    ca_fp = fingerprint(certdir, "ca/cert.pem")
    server_fp = fingerprint(certdir, "server/cert.pem")
    old_client = tmp_path / "old-client.pem"
    old_client.write_bytes((certdir / "client/cert.pem").read_bytes())
    ca_key = (certdir / "ca/key.pem").read_bytes()

    out = certgen(certdir)
    assert "refreshed" in out.stdout
    assert fingerprint(certdir, "ca/cert.pem") == ca_fp
    assert fingerprint(certdir, "server/cert.pem") != server_fp
    assert (certdir / "ca/key.pem").read_bytes() == ca_key
    assert openssl_verify(certdir / "client/ca.pem", old_client, purpose="sslclient").returncode == 0


def test_every_key_type_is_accepted(tmp_path):
    for key_type, marker in [("ecdsa-p256", "id-ecPublicKey"), ("rsa2048", "rsaEncryption"),
                             ("rsa4096", "(4096 bit)"), ("ed25519", "ED25519")]:
        d = tmp_path / key_type
        certgen(d, "--key-type", key_type)
        text = run(["openssl", "x509", "-in", str(d / "server/cert.pem"), "-noout", "-text"]).stdout
        assert marker in text, key_type
        assert openssl_verify(d / "client/ca.pem", d / "server/cert.pem", d / "client/cert.pem").returncode == 0
    # The env var works too.
    certgen(tmp_path / "env", env={"DIND_TLS_KEY_TYPE": "ed25519"})
    assert all(c["key"] == "ed25519" for c in summary(tmp_path / "env")["certificates"])


def test_bad_input_is_a_clear_error_and_changes_nothing(certdir):
    certgen(certdir)
    before = tree_state(certdir)
    cases = [
        ({"DOCKER_TLS_SAN": "DNS:ok,IP:300.1.1.1"}, [], "IP:300.1.1.1"),
        ({"DIND_TLS_KEY_TYPE": "dsa"}, [], "DIND_TLS_KEY_TYPE"),
        ({}, ["--validity-days", "0"], "invalid validity"),
    ]
    for env, args, needle in cases:
        proc = certgen(certdir, *args, env=env, check=False)
        assert proc.returncode == 1, (env, args)
        assert needle in proc.stderr
        assert tree_state(certdir) == before
    (certdir / "server/key.pem").write_text("-----BEGIN PRIVATE KEY-----\ntruncated")
    before = tree_state(certdir)
    proc = certgen(certdir, check=False)
    assert proc.returncode == 1
    assert "server/key.pem" in proc.stderr
    assert tree_state(certdir) == before
    assert certgen(certdir, "verify", check=False).returncode == 1


def test_usage_errors_and_disabled_tls(tmp_path):
    proc = run([binary("dind-certgen"), "--bogus"], check=False)
    assert proc.returncode == 2 and "unknown option" in proc.stderr
    proc = run([binary("dind-certgen"), "frobnicate"], check=False)
    assert proc.returncode == 2
    proc = run([binary("dind-certgen")], env={"DOCKER_TLS_CERTDIR": ""})
    assert "TLS is disabled" in proc.stdout
    assert not any(tmp_path.iterdir())
