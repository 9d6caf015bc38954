#!/usr/bin/env bash
# Run groups of the ETSI NGSI-LD conformance suite against Dosi, one fresh store per group.
#
# The suite is NOT part of Dosi: check it out yourself and prepare it as docs/conformance.md explains.
#   DOSI_SUITE_DIR  the prepared checkout (required)
#   ROBOT           the robot executable of the venv holding the suite's requirements (default: robot)
#   DATABASE_URL    sqlite:///... or postgresql://... (default: a temporary SQLite file)
#   PORT            Dosi's port (default 1026); RESULTS results folder (default ./conformance-results)
# Usage: scripts/conformance.sh [GROUP ...]   (paths under TP/NGSI-LD, default: the core broker's groups)
set -uo pipefail
: "${DOSI_SUITE_DIR:?set DOSI_SUITE_DIR to a prepared checkout of the ETSI NGSI-LD test suite}"
ROBOT="${ROBOT:-robot}"
PORT="${PORT:-1026}"
RESULTS="$(realpath -m "${RESULTS:-./conformance-results}")"
DATABASE_URL="${DATABASE_URL:-sqlite:///$(mktemp -d)/conformance.db}"
DOSI="${DOSI:-dosi}"
GROUPS_TO_RUN=("$@")
if [ ${#GROUPS_TO_RUN[@]} -eq 0 ]; then
  GROUPS_TO_RUN=(CommonBehaviours ContextInformation/Consumption/Entity ContextInformation/Consumption/Discovery
    ContextInformation/Provision/Entities ContextInformation/Provision/EntityAttributes
    ContextInformation/Provision/BatchEntities ContextInformation/Provision/PurgeEntities jsonldContext)
fi
export DOSI_DATABASE_URL="$DATABASE_URL" DOSI_PORT="$PORT"
# the suite's helper servers (notifications, context sources, @context) listen on loopback
export DOSI_OUTBOUND_ALLOW="${DOSI_OUTBOUND_ALLOW:-127.0.0.0/8,::1/128,0.0.0.0/32,localhost}"
mkdir -p "$RESULTS"

server=""
stop_server() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=""; }
trap stop_server EXIT

for group in "${GROUPS_TO_RUN[@]}"; do
  "$DOSI" db reset --yes >/dev/null
  "$DOSI" serve >"$RESULTS/dosi-$(echo "$group" | tr '/' '_').log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
  out="$RESULTS/$(echo "$group" | tr '/' '_')"
  (cd "$DOSI_SUITE_DIR" && "$ROBOT" --outputdir "$out" --console quiet \
    --variable "url:http://127.0.0.1:$PORT/ngsi-ld/v1" \
    --variable "temporal_api_url:http://127.0.0.1:$PORT/ngsi-ld/v1" \
    --variable notification_server_host:127.0.0.1 --variable context_source_host:127.0.0.1 \
    --variable context_server_host:127.0.0.1 "TP/NGSI-LD/$group")
  python3 - "$out/output.xml" "$group" <<'PY'
import sys, xml.etree.ElementTree as ET
stat = ET.parse(sys.argv[1]).getroot().find("statistics/total/stat")
print(f"{sys.argv[2]}: passed {stat.get('pass')}, failed {stat.get('fail')}, skipped {stat.get('skip')}")
PY
  stop_server
done
