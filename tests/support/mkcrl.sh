#!/bin/sh
# CRLs for TLS tests, in a directory $1 that mkcerts.sh filled (its CA):
#   revoked.crl  the CA's CRL revoking server.pem;
#   clean.crl    the CA's CRL revoking rogue.pem only (server.pem is good);
#   server2.pem/.key  another certificate for localhost/127.0.0.1, not revoked;
#   bad.crl      a PEM "X509 CRL" block whose body is no CRL.
# Made with `openssl ca`, its database (index.txt) kept apart for each CRL.
set -eu
cd "$1"
openssl req -newkey rsa:2048 -nodes -keyout server2.key -out server2.csr -subj "/CN=localhost" \
  2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > server2.ext
openssl x509 -req -in server2.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server2.pem \
  -days 2 -extfile server2.ext 2>/dev/null
crl() { # out revoked-cert
  mkdir -p "db-$1"
  : > "db-$1/index.txt"
  echo 01 > "db-$1/crlnumber"
  printf '[ca]\ndefault_ca=c\n[c]\ndatabase=db-%s/index.txt\ncrlnumber=db-%s/crlnumber\n' \
    "$1" "$1" > "db-$1/ca.cnf"
  printf 'default_md=sha256\ndefault_crl_days=2\n' >> "db-$1/ca.cnf"
  openssl ca -config "db-$1/ca.cnf" -keyfile ca.key -cert ca.pem -revoke "$2" 2>/dev/null
  openssl ca -config "db-$1/ca.cnf" -keyfile ca.key -cert ca.pem -gencrl -out "$1" 2>/dev/null
}
crl revoked.crl server.pem
crl clean.crl rogue.pem
printf -- '-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n' > bad.crl
