#!/bin/sh
# The certificate sequence docker:dind's entrypoint runs on first start
# (reference: shared/reference/dind-anchor.md §2.5), re-expressed for the
# benchmark: three RSA 4096 keys, a self-signed CA, a server and a client
# certificate signed by it, each verified. Usage: dind_certgen.sh DIR
set -eu
dir=$1
days=825
mkdir -p "$dir/ca" "$dir/server" "$dir/client"

openssl genrsa -out "$dir/ca/key.pem" 4096 2>/dev/null
openssl req -new -x509 -key "$dir/ca/key.pem" -out "$dir/ca/cert.pem" -days "$days" \
  -subj '/CN=docker:dind CA' -addext 'keyUsage=critical,digitalSignature,keyCertSign'

sans="DNS:docker,DNS:localhost,DNS:$(hostname)"
for ip in $(ip -oneline address | awk '{ sub(/\/.*/, "", $4); print $4 }'); do
  sans="$sans,IP:$ip"
done

issue() { # role cn eku [san]
  role=$1; cn=$2; eku=$3; san=${4:-}
  openssl genrsa -out "$dir/$role/key.pem" 4096 2>/dev/null
  openssl req -new -key "$dir/$role/key.pem" -out "$dir/$role/csr.pem" -subj "/CN=$cn"
  {
    echo "[ x509_exts ]"
    echo "extendedKeyUsage = $eku"
    if [ -n "$san" ]; then echo "subjectAltName = $san"; fi
  } > "$dir/$role/openssl.cnf"
  openssl x509 -req -in "$dir/$role/csr.pem" -CA "$dir/ca/cert.pem" -CAkey "$dir/ca/key.pem" \
    -CAcreateserial -out "$dir/$role/cert.pem" -days "$days" \
    -extfile "$dir/$role/openssl.cnf" -extensions x509_exts 2>/dev/null
  cp "$dir/ca/cert.pem" "$dir/$role/ca.pem"
  openssl verify -CAfile "$dir/$role/ca.pem" "$dir/$role/cert.pem" >/dev/null
}
issue server 'docker:dind server' serverAuth "$sans"
issue client 'docker:dind client' clientAuth
chmod 0644 "$dir/client/key.pem"
