#!/usr/bin/env bash
# Runs the real station window under Xvfb and saves a screenshot of each
# screen at 800x600 and 1920x1080 into DIR (default target/screenshots), on a throw-away station with a
# batch to review, a delivered batch and a demo scan in progress. Also prints
# the window's frame times while the demo feeder scans a 300-side batch, and
# its peak memory while it scans 2,000 sides (a release build). With --dev it
# takes the screenshots with the dev build only (no figures: the dev build's
# are not the station's).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
if [ "${1:-}" = "--dev" ]; then profile=dev; shift; fi
out="$(realpath -m "${1:-target/screenshots}")"
bash installer/setup.sh
missing=()
for p in xvfb imagemagick time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
cargo build --locked --profile "$profile"
bin="$PWD/target/$([ "$profile" = dev ] && echo debug || echo release)/folio"
work="$(mktemp -d)"
export FOLIO_DATA_DIR="$work/data" FOLIO_OPERATOR=j.smith FOLIO_STATION=scan-01
mkdir -p "$out" "$FOLIO_DATA_DIR"
printf '[upload]\nfolder = "%s"\n' "$work/store" > "$FOLIO_DATA_DIR/config.toml"
"$bin" generate --out "$work/a" --records 2 --dpi 150 --seed 21 >/dev/null
sent="$("$bin" import --json --label "Clinic 3 pulls" "$work/a/pages" | sed -n 's/.*"batch_id": "\([^"]*\)".*/\1/p')"
"$bin" approve "$sent" --accept-flags --reason "demo batch: its flags were looked at" >/dev/null
"$bin" upload >/dev/null 2>&1
"$bin" generate --out "$work/b" --records 4 --dpi 150 --seed 26 >/dev/null
"$bin" import --ocr --label "Ward 7 box 12" "$work/b/pages" >/dev/null
# A clinic worklist for the On demand screen: an EHR's Appointment searchset
# (times from now, one patient whose record was sent above) served as a
# static file on 127.0.0.1 (the query is ignored, as a file server does).
known="$("$bin" show "$sent" --json | python3 -c 'import json,sys; print(next(r["nhs_number"] for r in json.load(sys.stdin)["records"] if r.get("nhs_number")))')"
mkdir -p "$work/ehr/fhir"
python3 - "$known" > "$work/ehr/fhir/Appointment" <<'PY'
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
people = [("p1", "9434765918", "KHAN", "Farah", "loc-derm", 1), ("p2", "9434765919", "SMITH", "Alice", "loc-cardio", 2),
          ("p3", sys.argv[1], "PATEL", "Ravi", "loc-cardio", 4), ("p4", None, "NOVAK", "Piotr", "loc-derm", 5),
          ("p5", "4010232137", "JONES", "Tom", "loc-cardio", 21), ("p6", "0898889693", "O'BRIEN", "Seán", "loc-derm", 26)]
clinics = {"loc-cardio": "Cardiology Outpatients", "loc-derm": "Dermatology Clinic"}
entries = []
for n, (pid, nhs, family, given, loc, hours) in enumerate(people):
    start = (now + datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries.append({"resource": {"resourceType": "Appointment", "id": f"apt-{n}", "status": "booked", "start": start,
        "participant": [{"actor": {"reference": f"Patient/{pid}"}}, {"actor": {"reference": f"Location/{loc}"}}]}})
    ids = [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}] if nhs else []
    entries.append({"resource": {"resourceType": "Patient", "id": pid, "identifier": ids,
        "name": [{"use": "official", "family": family, "given": [given]}]}})
for loc, name in clinics.items():
    entries.append({"resource": {"resourceType": "Location", "id": loc, "name": name}})
print(json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries}))
PY
ehr_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server --bind 127.0.0.1 --directory "$work/ehr" "$ehr_port" >/dev/null 2>&1 &
ehr_pid=$!
printf '\n[worklist]\nfhir_url = "http://127.0.0.1:%s/fhir"\nlocations = ["Location/loc-cardio", "Location/loc-derm"]\n' "$ehr_port" >> "$FOLIO_DATA_DIR/config.toml"

# Each screen at the two sizes the window is judged at: a field team's
# 800x600 laptop and a 1920x1080 station monitor (the window fills the
# screen; Xvfb has no window manager to add borders).
shot() {
  local name=$1 size=$2; shift 2
  local display=":96"
  Xvfb "$display" -screen 0 "${size}x24" >/dev/null 2>&1 &
  local xvfb=$!
  sleep 1
  env DISPLAY="$display" FOLIO_WINDOW_SIZE="$size" "$@" "$bin" >/dev/null 2>&1 &
  local pid=$!
  sleep 7
  DISPLAY="$display" import -window root "$out/$name-$size.png"
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  kill "$xvfb" 2>/dev/null; wait "$xvfb" 2>/dev/null || true
  echo "$out/$name-$size.png"
}
trap 'kill "$ehr_pid" 2>/dev/null; rm -rf "$work"' EXIT
for size in 800x600 1920x1080; do
  shot scan "$size" FOLIO_DEMO_AUTOSCAN=4 FOLIO_DEMO_SPEED=40 FOLIO_DEMO_TARGET=1
  shot scan-jam "$size" FOLIO_DEMO_AUTOSCAN=4 FOLIO_DEMO_SPEED=240 FOLIO_DEMO_JAM_AFTER=7
  shot review "$size" FOLIO_START_TAB=review
  shot on-demand "$size" FOLIO_START_TAB=on-demand
  shot uploads "$size" FOLIO_START_TAB=uploads
  shot settings "$size" FOLIO_START_TAB=settings
  shot statistics "$size" FOLIO_START_TAB=statistics
  shot help "$size" FOLIO_SHOW_HELP=1
done

# A station with accounts: its sign-in screen, and a supervisor (not the
# operator who scanned the batch) walking the batch's sample.
acct="$work/accounts"
mkdir -p "$acct"
printf '[upload]\nfolder = "%s"\n' "$work/store2" > "$acct/config.toml"
run() { FOLIO_DATA_DIR="$acct" "$bin" "$@"; }
FOLIO_NEW_PIN=246810 run operators init --id a.admin --name "Ann Admin" >/dev/null
FOLIO_PIN=246810 FOLIO_NEW_PIN=135790 run --operator a.admin operators add --id j.smith --name "Jo Smith" --role operator >/dev/null
FOLIO_PIN=246810 FOLIO_NEW_PIN=112233 run --operator a.admin operators add --id m.jones --name "Mo Jones" --role supervisor >/dev/null
"$bin" generate --out "$work/c" --records 3 --dpi 150 --seed 31 --target >/dev/null
sampled="$(FOLIO_PIN=135790 run --operator j.smith import --json --label "Ward 9 box 3" "$work/c/pages" | sed -n 's/.*"batch_id": "\([^"]*\)".*/\1/p')"
FOLIO_PIN=112233 run --operator m.jones sample "$sampled" --draw >/dev/null
first="$(run sample "$sampled" | sed -n 's/^side \([0-9]*\)\t.*/\1/p' | head -1)"
FOLIO_PIN=112233 run --operator m.jones sample "$sampled" --pass "$first" >/dev/null
# Two more batches sampled, approved, sent and verified, their paper in an
# archive box; 70 days on (the dev build's injected clock, FOLIO_TEST_NOW)
# one is certified destroyed by the supervisor with a witness, the other is
# due: the Destruction screen, and the certificate's first page.
FOLIO_PIN=246810 FOLIO_NEW_PIN=778899 run --operator a.admin operators add --id w.wit --name "Will Witness" --role operator >/dev/null
later="$(date -u -d '+70 days' +%Y-%m-%dT%H:%M:%SZ)"
for seed in 41 42; do
  "$bin" generate --out "$work/d$seed" --records 2 --dpi 150 --seed "$seed" --target >/dev/null
  b="$(FOLIO_PIN=135790 run --operator j.smith import --json --label "Archive box $seed" "$work/d$seed/pages" | sed -n 's/.*"batch_id": "\([^"]*\)".*/\1/p')"
  FOLIO_PIN=112233 run --operator m.jones sample "$b" --draw >/dev/null
  # shellcheck disable=SC2046
  FOLIO_PIN=112233 run --operator m.jones sample "$b" $(run sample "$b" | sed -n 's/^side \([0-9]*\)\t.*/--pass \1/p') >/dev/null
  FOLIO_PIN=112233 run --operator m.jones approve "$b" --accept-flags --reason "demo batch: its flags were looked at" >/dev/null
  FOLIO_PIN=112233 run --operator m.jones upload >/dev/null 2>&1
  FOLIO_PIN=135790 run --operator j.smith paper "$b" --location "Archive room 2, box $seed" >/dev/null
  gone="$b"
done
if [ "$profile" = dev ]; then
  FOLIO_TEST_NOW="$later" FOLIO_PIN=112233 FOLIO_WITNESS_PIN=778899 run --operator m.jones destruction certify \
    --batches "$gone" --method "cross-cut shredding (DIN 66399 P-4), contractor Shredco" --witness w.wit >/dev/null
  pdftoppm -png -r 80 -f 1 -l 1 -singlefile "$acct"/certificates/*.pdf "$out/certificate"
  echo "$out/certificate.png"
fi
for size in 800x600 1920x1080; do
  shot sign-in "$size" FOLIO_DATA_DIR="$acct"
  shot sample "$size" FOLIO_DATA_DIR="$acct" FOLIO_DEMO_SIGN_IN=m.jones FOLIO_PIN=112233 FOLIO_START_SAMPLE="$sampled"
  shot destruction "$size" FOLIO_DATA_DIR="$acct" FOLIO_DEMO_SIGN_IN=m.jones FOLIO_PIN=112233 FOLIO_START_TAB=destruction FOLIO_TEST_NOW="$later"
done
[ "$profile" = dev ] && exit 0

display=:97
Xvfb "$display" -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb "$ehr_pid" 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
echo "frame times while the demo feeder scans about 300 sides at 420 sides a minute:"
DISPLAY="$display" FOLIO_DEMO_AUTOSCAN=24 FOLIO_DEMO_SPEED=420 FOLIO_EXIT_AFTER_SCAN=1 FOLIO_FRAME_STATS=1 \
  "$bin" 2>&1 | grep -E "^frames:" || true
echo "peak memory of the window while the demo feeder scans 2,038 sides flat out:"
DISPLAY="$display" FOLIO_DEMO_AUTOSCAN=150 FOLIO_DEMO_SPEED=0 FOLIO_EXIT_AFTER_SCAN=1 FOLIO_FRAME_STATS=1 \
  /usr/bin/time -f "peak resident memory %M KiB; %e s" "$bin" 2>&1 | grep -E "^frames:|^peak" || true
