#!/usr/bin/env bash
# Turns one still photograph into COUNT clips of 64 frames, 256x256, 8 fps (y4m, yuv420p, limited range) with
# synthetic camera motion made by ffmpeg filters only (scale, crop with frame-based positions, zoompan, rotate).
#   pipelines/photo-clips.sh PHOTO OUT_DIR NAME [COUNT]
# writes OUT_DIR/NAME-v0.y4m … NAME-v(COUNT-1).y4m (existing files are kept) and appends a line per new clip to
# OUT_DIR/.motions.tsv: clip, motion, window in per mille of the short side, photo.
#
# Every choice (window scale, motion, speed, position) comes from cksum of "NAME#variant", so a rerun writes
# byte-identical files. The variants of one photo take different window scales (from the whole short side down
# to about a quarter of it), never a window under 256 source pixels (that would be upscaling). The photo is first
# downscaled so that the window is at most 1024 px: crop and zoompan move in whole pixels, and at 1024 px a
# one-pixel step is a quarter of an output pixel, so slow motion does not judder visibly.
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: photo-clips.sh PHOTO OUT_DIR NAME [COUNT]" >&2; exit 64
fi
photo=$1; out=$2; name=$3; count=${4:-4}
[ -r "$photo" ] || { echo "photo-clips: error: cannot read '$photo'" >&2; exit 66; }
case $count in ''|*[!0-9]*) echo "photo-clips: error: COUNT must be a whole number, got '$count'" >&2; exit 64;; esac
mkdir -p "$out"

FRAMES=64; SIZE=256; MAXWIN=1024
FF=(ffmpeg -nostdin -v error -y -threads 1 -filter_threads 1)
OUTOPT=(-frames:v $FRAMES -r 8 -pix_fmt yuv420p -color_range tv -f yuv4mpegpipe)

hash() { printf '%s' "$1" | cksum | cut -d' ' -f1; }
even() { echo $(( $1 / 2 * 2 )); }

dims=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x "$photo")
W=${dims%%x*}; H=${dims##*x}
case "$W$H" in ''|*[!0-9]*) echo "photo-clips: error: '$photo' is not an image ffmpeg can read" >&2; exit 65;; esac
short=$(( W < H ? W : H ))

# Window sizes as per mille of the short side, largest first; those under 256 source pixels are left out.
scales=()
for f in 1000 700 450 250; do
    [ $(( short * f / 1000 )) -ge $SIZE ] && scales+=("$f")
done
[ ${#scales[@]} -eq 0 ] && scales=(1000)  # a photo under 256 px: the only choice is to upscale it whole
motions=(pan-left pan-right pan-up pan-down pan-diagonal zoom-in zoom-out rotate static)
base=$(hash "$name")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

for (( v = 0; v < count; v++ )); do
    dst=$out/$name-v$v.y4m
    [ -s "$dst" ] && continue
    h=$(hash "$name#$v")
    f=${scales[$(( (base + v) % ${#scales[@]} ))]}
    motion=${motions[$(( h % ${#motions[@]} ))]}
    r1=$(( h / 9 ))          # further independent-enough draws from the same hash
    r2=$(( h / 97 )); r3=$(( h / 9973 )); r4=$(( h / 999983 ))
    wo=$(( short * f / 1000 ))
    # Downscale (never up) so that the window is at most MAXWIN pixels.
    if [ $wo -gt $MAXWIN ]; then
        PW=$(even $(( W * MAXWIN / wo ))); PH=$(even $(( H * MAXWIN / wo )))
    else
        PW=$(even "$W"); PH=$(even "$H")
    fi
    ps=$(( PW < PH ? PW : PH ))
    w=$(even $(( ps * f / 1000 ))); [ $w -gt $ps ] && w=$ps
    still=$tmp/still-$v.png
    "${FF[@]}" -i "$photo" -vf "scale=$PW:$PH:flags=lanczos" -frames:v 1 "$still"
    roomx=$(( PW - w )); roomy=$(( PH - w ))
    # A start in the middle half of [0, room]: photographers centre their subject, and a small window placed
    # anywhere lands on featureless sky or bokeh too often.
    pos() { [ "$1" -gt 0 ] && echo $(( $1 / 4 + $2 % ($1 / 2 + 1) )) || echo 0; }

    # Pans: 1-3 output pixels a frame, slowed down to what the room allows; no room on that axis -> zoom.
    dx=0; dy=0
    if [[ $motion == pan-* ]]; then
        step=$(( (1 + r1 % 3) * w / SIZE )); [ $step -lt 1 ] && step=1
        fit() { local room=$1 s=$2; while [ $s -gt 0 ] && [ $(( s * (FRAMES - 1) )) -gt "$room" ]; do s=$(( s - 1 )); done; echo $s; }
        case $motion in
            pan-left|pan-right) dx=$(fit $roomx $step) ;;
            pan-up|pan-down) dy=$(fit $roomy $step) ;;
            pan-diagonal) dx=$(fit $roomx $step); dy=$(fit $roomy $step)
                          [ $dx -eq 0 ] || [ $dy -eq 0 ] && { dx=0; dy=0; } ;;
        esac
        [ $dx -eq 0 ] && [ $dy -eq 0 ] && motion=zoom-in
    fi
    # Rotation needs a region sqrt(2) times the window so that no corner of the turned window leaves the photo.
    if [ "$motion" = rotate ]; then
        rr=$(even $(( w * 1415 / 1000 + 2 )))
        [ $rr -gt $ps ] && motion=zoom-out
    fi

    case $motion in
        pan-*)
            tx=$(( dx * (FRAMES - 1) )); ty=$(( dy * (FRAMES - 1) ))
            x0=$(pos $(( roomx - tx )) $r2); y0=$(pos $(( roomy - ty )) $r3)
            sx=1; sy=1
            case $motion in pan-left) x0=$(( x0 + tx )); sx=-1 ;; pan-up) y0=$(( y0 + ty )); sy=-1 ;; esac
            [ $motion = pan-diagonal ] && [ $(( r4 % 2 )) -eq 1 ] && { x0=$(( x0 + tx )); sx=-1; }
            [ $motion = pan-diagonal ] && [ $(( r4 / 2 % 2 )) -eq 1 ] && { y0=$(( y0 + ty )); sy=-1; }
            vf="crop=$w:$w:x='$x0+($sx*$dx)*n':y='$y0+($sy*$dy)*n',scale=$SIZE:$SIZE:flags=lanczos"
            input=(-loop 1 -framerate 8 -i "$still") ;;
        zoom-in|zoom-out)
            x0=$(pos $roomx $r2); y0=$(pos $roomy $r3)
            zmax=$(( 20 + r1 % 4 * 10 ))   # ends at 1.2x to 1.5x
            if [ $motion = zoom-in ]; then z="1+0.$zmax*on/$(( FRAMES - 1 ))"; else z="1.$zmax-0.$zmax*on/$(( FRAMES - 1 ))"; fi
            vf="crop=$w:$w:$x0:$y0,zoompan=z='$z':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=$FRAMES:s=${SIZE}x$SIZE:fps=8"
            input=(-i "$still") ;;
        rotate)
            x0=$(pos $(( PW - rr )) $r2); y0=$(pos $(( PH - rr )) $r3)
            rate=$(( 15 + r1 % 26 ))       # 0.15-0.40 degrees a frame: 10-25 degrees over the clip
            [ $(( r4 % 2 )) -eq 1 ] && rate=-$rate
            vf="crop=$rr:$rr:$x0:$y0,rotate=a='($rate/100)*n*PI/180':ow=$rr:oh=$rr,crop=$w:$w,scale=$SIZE:$SIZE:flags=lanczos"
            input=(-loop 1 -framerate 8 -i "$still") ;;
        static)
            x0=$(pos $roomx $r2); y0=$(pos $roomy $r3)
            vf="crop=$w:$w:$x0:$y0,scale=$SIZE:$SIZE:flags=lanczos"
            input=(-loop 1 -framerate 8 -i "$still") ;;
    esac
    "${FF[@]}" "${input[@]}" -vf "$vf,scale=out_range=tv,format=yuv420p,setsar=1" "${OUTOPT[@]}" "$dst.part.$$"
    mv "$dst.part.$$" "$dst"
    printf '%s\t%s\t%s\t%s\n' "$name-v$v" "$motion" "$f" "$photo" >> "$out/.motions.tsv"
done
