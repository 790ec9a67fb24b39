#!/usr/bin/env bash
# Folio's page pipeline against the chain a bureau would otherwise script from
# standard tools on the same pages: zbarimg for barcodes, ImageMagick
# `-deskew 40% -trim` for straightening and cropping, cjpeg for JPEG, img2pdf for
# the PDF. Both sides read generated 300 dpi grey A4 PGM pages and end with PDFs;
# the figure compared is CPU seconds (user + system) per page.
#
# Usage: benches/compare.sh [PAGES] [FOLIO_BINARY]
# Needs: zbar-tools imagemagick libjpeg-turbo-progs img2pdf (Debian packages).
set -euo pipefail
PAGES=${1:-8}
FOLIO=${2:-target/release/folio}
CONVERT=/usr/bin/convert   # ImageMagick itself, not a wrapper earlier on PATH
for tool in zbarimg cjpeg img2pdf "$CONVERT" "$FOLIO"; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install zbar-tools imagemagick libjpeg-turbo-progs img2pdf; cargo build --release" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$FOLIO" generate --out "$work/stack" --records 3 --dpi 300 --simplex --format pgm >/dev/null
mkdir -p "$work/pages" "$work/tools"
ls "$work/stack/pages"/*.pgm | head -n "$PAGES" | xargs -I{} cp {} "$work/pages/"
n=$(ls "$work/pages" | wc -l)

cpu() { awk '{ printf "%.3f", $2 + $3 }' "$1"; }

/usr/bin/time -f "%e %U %S" -o "$work/tools.time" bash -c '
  set -e
  for p in "$1"/pages/*.pgm; do
    b=$(basename "$p" .pgm)
    zbarimg -q --raw -Sdisable -Scode128.enable -Scode39.enable -Sqrcode.enable "$p" >/dev/null || true
    "$2" "$p" -deskew 40% -trim +repage "$1/tools/$b.pgm"
    cjpeg -quality 75 -grayscale "$1/tools/$b.pgm" > "$1/tools/$b.jpg"
  done
  img2pdf -s 300dpi "$1"/tools/*.jpg -o "$1/tools/out.pdf" 2>/dev/null
' _ "$work" "$CONVERT"

export FOLIO_DATA_DIR="$work/data"
/usr/bin/time -f "%e %U %S" -o "$work/folio.time" bash -c '
  set -e
  batch=$("$1" import --dpi 300 "$2/pages")
  "$1" export "$batch" --to "$2/out" >/dev/null
' _ "$FOLIO" "$work" 2>/dev/null || true

tools=$(cpu "$work/tools.time")
folio=$(cpu "$work/folio.time")
awk -v n="$n" -v t="$tools" -v f="$folio" 'BEGIN {
  printf "%d pages of 300 dpi grey A4\n", n
  printf "standard tools (zbarimg, convert -deskew 40%% -trim, cjpeg, img2pdf): %.2f s CPU a page\n", t / n
  printf "folio import + export:                                              %.3f s CPU a page\n", f / n
  printf "folio is %.0f times faster per page\n", t / f
}'
