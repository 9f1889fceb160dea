#!/bin/sh
# Makes a throw-away CA and certificates for TLS tests in directory $1:
#   ca.pem/ca.key, server.pem/.key (CN localhost, SAN localhost + 127.0.0.1),
#   client.pem/.key (relay1.aviation.example), rogue.pem/.key (rogue.example),
#   nul.pem/.key (CN rogue.example, a DNS name with a NUL in it);
# with "names" as $2 also cnonly.pem/.key (CN relay5.aviation.example, no SAN)
# and cnsan.pem/.key (CN relay6.aviation.example, SAN DNS:other.example).
set -eu
cd "$1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj "/CN=Vigil Test CA" 2>/dev/null
mk() { # name cn san
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf "subjectAltName=%s\n" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
    -days 2 -extfile "$1.ext" 2>/dev/null
}
mk server localhost "DNS:localhost,IP:127.0.0.1"
mk client relay1.aviation.example "DNS:relay1.aviation.example"
mk rogue rogue.example "DNS:rogue.example"
# nul.pem (rogue's key): its only DNS name is "relay9.aviation.example\0.rogue.example",
# which read as a C string is an allowed name
printf "subjectAltName=DER:30:28:82:26:%s:00:%s\n" \
  72:65:6C:61:79:39:2E:61:76:69:61:74:69:6F:6E:2E:65:78:61:6D:70:6C:65 \
  2E:72:6F:67:75:65:2E:65:78:61:6D:70:6C:65 > nul.ext
cp rogue.key nul.key
openssl x509 -req -in rogue.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out nul.pem -days 2 \
  -extfile nul.ext 2>/dev/null
[ "${2:-}" = names ] || exit 0
# Made with rogue's key: no key to generate.
reuse() { # name cn extension
  openssl req -new -key rogue.key -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf "%s\n" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
    -days 2 -extfile "$1.ext" 2>/dev/null
  cp rogue.key "$1.key"
}
reuse cnonly relay5.aviation.example "basicConstraints=CA:FALSE"
reuse cnsan relay6.aviation.example "subjectAltName=DNS:other.example"
