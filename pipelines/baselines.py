#!/usr/bin/env python3
"""Trivial-predictor PSNR baselines for held-out clips (README, "The shipped tokenizer"): the clip mean colour,
each frame's mean colour, and 16x16-pixel x 8-frame box means (the L0 token grid as a box filter).
Usage: python3 pipelines/baselines.py clip.y4m ...  (first 64 frames, 256x256; needs numpy and ffmpeg)"""
import subprocess, numpy as np, sys
def frames(path, n=64):
    raw = subprocess.run(["ffmpeg","-v","error","-i",path,"-frames:v",str(n),"-f","rawvideo","-pix_fmt","rgb24","-"],capture_output=True).stdout
    return np.frombuffer(raw,np.uint8).reshape(-1,256,256,3).astype(np.float64)
def psnr(a,b): return np.mean([10*np.log10(255**2/np.mean((x-y)**2)) for x,y in zip(a,b)])
for p in sys.argv[1:]:
    v = frames(p); v = v[:len(v)//8*8]
    clipmean = np.broadcast_to(v.mean(axis=(0,1,2)), v.shape)
    framemean = np.broadcast_to(v.mean(axis=(1,2),keepdims=True), v.shape)
    # 16x16-pixel block means per 8-frame group (the L0 grid 8x16x16 as a box filter)
    b = v.reshape(-1,8,16,16,16,16,3).mean(axis=(1,3,5),keepdims=True)
    blocks = np.broadcast_to(b, (len(v)//8,8,16,16,16,16,3)).reshape(v.shape)
    print(f"{p.split('/')[-1]}: clip-mean {psnr(v,clipmean):.2f} dB, frame-mean {psnr(v,framemean):.2f} dB, 16px×8-frame box means {psnr(v,blocks):.2f} dB")
