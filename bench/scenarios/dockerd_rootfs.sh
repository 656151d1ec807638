#!/bin/sh
# A docker:dind-like image without a registry, for the side-by-side appliance
# benchmark: Debian's dockerd, containerd, runc and docker-init (tini) with
# their libraries, openssl and busybox, and an entrypoint that runs docker:dind's
# certificate sequence (dind_certgen.sh) and then dockerd the way
# dockerd-entrypoint.sh does (tcp://0.0.0.0:2376 --tlsverify, the unix
# socket). --iptables=false: the image carries no iptables. Usage: OUT.tar
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/usr/bin" "$stage/usr/sbin" "$stage/etc" "$stage/tmp" "$stage/var/lib/docker" \
  "$stage/var/run" "$stage/run" "$stage/proc" "$stage/sys" "$stage/dev" "$stage/certs" "$stage/usr/lib/ssl"
chmod 1777 "$stage/tmp"
for f in /usr/sbin/dockerd /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/sbin/runc \
         /usr/bin/docker-init /usr/bin/openssl; do
  cp "$f" "$stage$f"
  ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
    cp --parents -L "$lib" "$stage/"
  done
done
cp /usr/lib/ssl/openssl.cnf "$stage/usr/lib/ssl/"
cp /bin/busybox "$stage/bin/"
for a in sh awk ip hostname mkdir cp chmod cat sleep; do ln -s busybox "$stage/bin/$a"; done
cp "$here/dind_certgen.sh" "$stage/certgen.sh"
cat > "$stage/entrypoint.sh" <<'EOS'
#!/bin/sh
set -eu
sh /certgen.sh /certs
exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2376 --tlsverify \
  --tlscacert /certs/server/ca.pem --tlscert /certs/server/cert.pem --tlskey /certs/server/key.pem \
  --iptables=false --ip6tables=false
EOS
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
printf 'root:x:0:\n' > "$stage/etc/group"
tar --numeric-owner -C "$stage" -cf "$out" .
