#!/bin/bash
# CI only: the part of the official image's entrypoint the compose file relies on.
# - Every environment variable whose name contains a dot (discovery.type=single-node) becomes a setting.
# - ELASTIC_PASSWORD becomes the bootstrap password of the `elastic` user (read from stdin, never an argument).
# - The minimal distribution has no native realm, so the identities come from the file realm instead of
#   `koa-sentinel setup identities`: config/roles.yml (mounted, from `koa-sentinel setup roles --format yaml`) and
#   one user per entry of $FILE_REALM_USERS ("name:role,name:role"), the password in $<NAME>_PASSWORD (NAME
#   upper-cased, - as _).
set -euo pipefail
cd /usr/share/elasticsearch
settings=()
while IFS='=' read -r -d '' name value; do
  if [[ $name == *.* && $name =~ ^[a-z0-9_.]+$ ]]; then settings+=("-E" "$name=$value"); fi
done < <(env -0)
# Each tool is a JVM start: done once, at the container's first start, so a restarted container is up quickly.
if [[ -n ${ELASTIC_PASSWORD:-} && ! -f config/elasticsearch.keystore ]]; then
  bin/elasticsearch-keystore create >/dev/null
  printf '%s' "$ELASTIC_PASSWORD" | bin/elasticsearch-keystore add -x -f bootstrap.password
fi
IFS=',' read -ra entries <<<"${FILE_REALM_USERS:-}"
for entry in "${entries[@]}"; do
  user=${entry%%:*} role=${entry#*:}
  variable="$(tr 'a-z-' 'A-Z_' <<<"$user")_PASSWORD"
  grep -q "^$user:" config/users 2>/dev/null && continue
  # The tool takes the password as an argument only; this runs inside the CI container, never on the host.
  bin/elasticsearch-users useradd "$user" -p "${!variable}" -r "$role"
done
exec bin/elasticsearch "${settings[@]}"
