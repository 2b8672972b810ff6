// Decodes any file libavformat opens into RGB frames at a fixed rate and size, as `hv-decode` does:
// - time-based resampling: output frame k shows the last decoded frame whose timestamp is ≤ start + (k + ½)/fps
//   (nearest frame in time, like ffmpeg's fps filter), so variable frame rate input is handled;
// - geometry: rotation metadata applied (display matrix), short side scaled to `size` and centre-cropped, or
//   the long side scaled and letterboxed (`crop: false`);
// - swscale writes past the end of tightly packed RGB24 rows for some widths (platform-notes), so it gets a
//   64-byte-aligned stride with slack and we repack.
import CFFmpeg
import Foundation
import HVCore

public struct DecodeOptions: Sendable {
    public var fps: FrameRate = FrameRate(8)
    public var size: Int = 256
    public var crop: Bool = true
    public var start: Double = 0
    public var duration: Double? = nil
    public var maxFrames: Int? = nil
    /// Scale and convert to RGB in one swscale call for every source format (the reference path; by default
    /// 8-bit planar Y'CbCr sources are scaled in Y'CbCr and converted by us, which is faster).
    public var scaleInRGB = false
    public init() {}
}

public final class VideoDecoder {
    public let name: String
    public let options: DecodeOptions
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>
    private let streamIndex: Int32
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var sws: OpaquePointer?
    private let rotation: Int          // clockwise quarter turns 0...3
    private var scaled: [UInt8] = []   // swscale destination with padded stride
    private var planes: [UInt8] = []   // scaled Y'CbCr 4:4:4 planes (fast path for planar Y'CbCr sources)
    // Decoded frames are kept as libav frames and converted (scaled, rotated, cropped) only when they are
    // emitted: with a 30 fps source and --fps 8 most decoded frames are skipped, and swscale is the cost.
    private var current: UnsafeMutablePointer<AVFrame>?   // latest decoded frame at or before the target time
    private var currentRGB: RGBFrame?                     // its conversion, once emitted (reused on repeats)
    private var currentYCbCr: YCbCrFrame?
    private var currentTime = -Double.infinity
    private var pendingFrame: UnsafeMutablePointer<AVFrame>?
    private var pendingTime = 0.0
    private var lastDuration = 0.0
    private var inputEnded = false
    private var emitted = 0
    private var endTime = Double.infinity
    public private(set) var decodedFrames = 0
    private var lastDecodedEnd = 0.0                      // end time of the last decoded frame (s)

    /// Native properties of the stream.
    public let sourceWidth: Int
    public let sourceHeight: Int
    public let sourceFrameRate: Double
    public let sourceDuration: Double?

    public init(path: String, options: DecodeOptions) throws {
        name = path
        self.options = options
        av_log_set_level(AV_LOG_QUIET)
        var ctx: UnsafeMutablePointer<AVFormatContext>?
        // `-` is stdin, as for every other tool (libavformat's pipe protocol; seeking is then unavailable).
        let rc = avformat_open_input(&ctx, path == "-" ? "pipe:0" : path, nil, nil)
        guard rc >= 0, let ctx else {
            if rc == cff_averror(ENOENT) { throw MediaError.cannotOpen(name: path, reason: "no such file") }
            if rc == cff_averror(EACCES) { throw MediaError.cannotOpen(name: path, reason: "permission denied") }
            throw MediaError.decodeFailed(name: path, reason: "not a video file libavformat can read (\(VideoDecoder.errorString(rc)))")
        }
        format = ctx
        // The tty demuxer renders any text file as "video" (ANSI art): it is what libavformat falls back to
        // when nothing else claims a file, never what a user means by a clip.
        if let f = ctx.pointee.iformat, String(cString: f.pointee.name) == "tty" {
            throw MediaError.decodeFailed(name: path, reason: "not a video file libavformat can read (it reads only as text)")
        }
        guard avformat_find_stream_info(ctx, nil) >= 0 else {
            throw MediaError.decodeFailed(name: path, reason: "cannot read stream information")
        }
        var dec: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0)
        guard index >= 0, let dec else { throw MediaError.noVideoStream(name: path) }
        streamIndex = index
        stream = ctx.pointee.streams[Int(index)]!
        let par = stream.pointee.codecpar!
        guard let cc = avcodec_alloc_context3(dec) else { throw MediaError.decodeFailed(name: path, reason: "out of memory") }
        codec = cc
        avcodec_parameters_to_context(cc, par)
        cc.pointee.thread_count = Int32(Threads.capped(ProcessInfo.processInfo.activeProcessorCount))
        guard avcodec_open2(cc, dec, nil) >= 0 else {
            throw MediaError.decodeFailed(name: path, reason: "cannot open the \(String(cString: dec.pointee.name)) decoder")
        }
        sourceWidth = Int(par.pointee.width); sourceHeight = Int(par.pointee.height)
        var rate = stream.pointee.avg_frame_rate
        if rate.num == 0 || rate.den == 0 { rate = stream.pointee.r_frame_rate }
        sourceFrameRate = rate.den != 0 ? Double(rate.num) / Double(rate.den) : 0
        sourceDuration = ctx.pointee.duration > 0 ? Double(ctx.pointee.duration) / Double(AV_TIME_BASE) : nil
        let degrees = -cff_stream_rotation(stream)  // clockwise
        rotation = ((Int((degrees / 90).rounded()) % 4) + 4) % 4
        packet = av_packet_alloc(); frame = av_frame_alloc()
        if let d = options.duration { endTime = options.start + d }
        if options.start > 0 {
            let ts = Int64(options.start * Double(AV_TIME_BASE))
            av_seek_frame(ctx, -1, ts, AVSEEK_FLAG_BACKWARD)
        }
    }

    deinit {
        sws_freeContext(sws)
        av_frame_free(&frame)
        av_frame_free(&current)
        av_frame_free(&pendingFrame)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
        avformat_close_input(&format)
    }

    static func errorString(_ rc: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 128)
        cff_err2str(rc, &buf, 128)
        return String(cString: buf)
    }

    /// Size of frames produced: size × size.
    public var outputWidth: Int { options.size }
    public var outputHeight: Int { options.size }

    /// The next resampled frame, or nil at the end.
    public func nextFrame() throws -> RGBFrame? {
        guard let f = try advance() else { return nil }
        if currentRGB == nil { currentRGB = try convert(f) }
        return currentRGB
    }

    /// The next resampled frame as limited-range BT.601 Y'CbCr planes, 4:4:4 or (`subsampled`) 4:2:0, or nil at
    /// the end: what a y4m writer stores, without the round trip through RGB (8-bit planar Y'CbCr sources stay in
    /// Y'CbCr from the decoder to the file; other sources are converted from `nextFrame`'s RGB). Mixing it with
    /// `nextFrame` on one decoder is allowed: both advance the same clock.
    ///
    /// 4:2:0 from an unrotated planar source is scaled by swscale straight to 4:2:0, as ffmpeg's scale filter
    /// does (a quarter of the chroma work of 4:4:4), and a centre crop then starts on an even column and row, as
    /// ffmpeg's crop filter rounds it for 4:2:0, so the chroma stays aligned: up to one pixel left of or above
    /// the 4:4:4 frame's exact centre. Otherwise it is the 4:4:4 frame's `subsampled()`.
    public func nextYCbCrFrame(subsampled: Bool = false) throws -> YCbCrFrame? {
        guard let f = try advance() else { return nil }
        if currentYCbCr == nil || currentYCbCr!.isSubsampled != subsampled {
            currentYCbCr = try subsampled ? convertYCbCr420(f) : convertYCbCr(f)
        }
        return currentYCbCr
    }

    /// Moves the clock one output frame on: the decoded frame to show, or nil at the end.
    private func advance() throws -> UnsafeMutablePointer<AVFrame>? {
        if let m = options.maxFrames, emitted >= m { return nil }
        let step = Double(options.fps.denominator) / Double(options.fps.numerator)
        let t = options.start + Double(emitted) * step
        if t >= endTime { return nil }
        let target = t + step / 2
        // Advance until the next decoded frame lies beyond the target time.
        while true {
            if pendingFrame == nil && !inputEnded {
                if let (f, ts) = try decodeNext() { pendingFrame = f; pendingTime = ts } else { inputEnded = true }
            }
            if let p = pendingFrame, pendingTime <= target || current == nil {
                av_frame_free(&current)
                current = p; currentRGB = nil; currentYCbCr = nil; currentTime = pendingTime; pendingFrame = nil
                continue
            }
            break
        }
        guard let current else {
            if decodedFrames == 0 { throw MediaError.decodeFailed(name: name, reason: "no video frame could be decoded") }
            return nil
        }
        // Past the end of the video: like ffmpeg's fps filter, the stream ends at output index
        // round(end · fps), end being the last frame's pts + duration (rounding half away from zero).
        if inputEnded && pendingFrame == nil {
            let endIndex = ((currentTime + lastDuration - options.start) / step).rounded(.toNearestOrAwayFromZero)
            if Double(emitted) >= endIndex - 1e-9 { return nil }
        }
        emitted += 1
        return current
    }

    /// Decodes the next frame at or after the start time: (a frame the caller owns and frees, time in seconds).
    private func decodeNext() throws -> (UnsafeMutablePointer<AVFrame>, Double)? {
        guard let format, let codec, let packet, let frame else { return nil }
        let tb = stream.pointee.time_base
        let startTime = stream.pointee.start_time == cff_nopts_value() ? 0 : stream.pointee.start_time
        while true {
            let r = avcodec_receive_frame(codec, frame)
            if r == 0 {
                var pts = frame.pointee.best_effort_timestamp
                if pts == cff_nopts_value() { pts = frame.pointee.pts }
                let seconds = pts == cff_nopts_value()
                    ? (currentTime.isFinite ? currentTime + lastDuration : 0)
                    : Double(pts - startTime) * Double(tb.num) / Double(tb.den)
                let dur = Double(frame.pointee.pkt_duration) * Double(tb.num) / Double(tb.den)
                lastDuration = dur > 0 ? dur : (sourceFrameRate > 0 ? 1 / sourceFrameRate : lastDuration)
                decodedFrames += 1
                lastDecodedEnd = seconds + lastDuration
                if seconds + lastDuration <= options.start { av_frame_unref(frame); continue }
                guard let kept = av_frame_alloc() else {
                    throw MediaError.decodeFailed(name: name, reason: "out of memory")
                }
                av_frame_move_ref(kept, frame)
                return (kept, seconds)
            }
            if r == cff_averror_eof() {
                // A file cut after its index (a faststart mp4) ends early without an error from the demuxer
                // (mov only logs "partial file"); the stream's stated duration tells.
                let d = stream.pointee.duration
                if d > 0, d != cff_nopts_value(), decodedFrames > 0 {
                    let total = Double(d) * Double(tb.num) / Double(tb.den)
                    if lastDecodedEnd < total - max(0.5, 2 * lastDuration) {
                        throw MediaError.decodeFailed(name: name, reason: String(format: "the file is cut short: its video stops at %.2f s of %.2f s", lastDecodedEnd, total))
                    }
                }
                return nil
            }
            guard r == cff_averror(EAGAIN) else {
                throw MediaError.decodeFailed(name: name, reason: VideoDecoder.errorString(r))
            }
            let rr = av_read_frame(format, packet)
            if rr < 0 {
                // Anything but the end of the file is a damaged or cut file (mov says "partial file"):
                // frames that stop early must not pass for the whole video.
                if rr != cff_averror_eof() {
                    throw MediaError.decodeFailed(name: name, reason: "the file is damaged or cut short after \(decodedFrames) frames (\(VideoDecoder.errorString(rr)))")
                }
                avcodec_send_packet(codec, nil)  // flush
                continue
            }
            defer { av_packet_unref(packet) }
            if packet.pointee.stream_index != streamIndex { continue }
            let s = avcodec_send_packet(codec, packet)
            if s < 0 && s != cff_averror(EAGAIN) && s != cff_averror_invaliddata() {
                throw MediaError.decodeFailed(name: name, reason: VideoDecoder.errorString(s))
            }
        }
    }

    /// Where one decoded frame goes: its scaled raw (unrotated) size, its display size after rotation, and the
    /// crop offsets into it (≥ 0) or, negative, the letterbox margins.
    private struct Placement {
        var sw: Int, sh: Int, tw: Int, th: Int, ox: Int, oy: Int
    }

    private func placement(_ f: UnsafeMutablePointer<AVFrame>) throws -> (Placement, Int, Int, AVPixelFormat) {
        let w = Int(f.pointee.width), h = Int(f.pointee.height)
        guard w > 0, h > 0, let fmt = AVPixelFormat(rawValue: f.pointee.format) as AVPixelFormat? else {
            throw MediaError.decodeFailed(name: name, reason: "a frame has no picture")
        }
        let S = options.size
        let (dw, dh) = rotation % 2 == 1 ? (h, w) : (w, h)
        let scale = options.crop ? Double(S) / Double(min(dw, dh)) : Double(S) / Double(max(dw, dh))
        let tw = max(1, Int((Double(dw) * scale).rounded())), th = max(1, Int((Double(dh) * scale).rounded()))
        let (sw, sh) = rotation % 2 == 1 ? (th, tw) : (tw, th)
        return (Placement(sw: sw, sh: sh, tw: tw, th: th, ox: (tw - S) / 2, oy: (th - S) / 2), w, h, fmt)
    }

    /// Scales, rotates and crops/letterboxes one decoded frame to size × size RGB.
    private func convert(_ f: UnsafeMutablePointer<AVFrame>) throws -> RGBFrame {
        let (pl, w, h, fmt) = try placement(f)
        let S = options.size
        let stride = (pl.sw * 3 + 63) / 64 * 64
        let needed = stride * pl.sh + 64
        if scaled.count < needed { scaled = [UInt8](repeating: 0, count: needed) }
        if !options.scaleInRGB && VideoDecoder.planarYUV.contains(fmt) {
            let at = try scaleYUV(f, width: w, height: h, format: fmt, toWidth: pl.sw, height: pl.sh, subsampled: false)
            planes.withUnsafeBufferPointer { p in
                scaled.withUnsafeMutableBufferPointer { rgb in
                    let base = p.baseAddress!
                    ColorConversion.yuvToRGB(y: base, cb: base + at.cb, cr: base + at.cr, width: pl.sw, height: pl.sh,
                                             chromaWidth: pl.sw, subsampled: false, fullRange: false, rgb: rgb.baseAddress!,
                                             lumaStride: at.lumaStride, chromaStride: at.chromaStride, rgbStride: stride)
                }
            }
        } else {
            sws = sws_getCachedContext(sws, Int32(w), Int32(h), fmt, Int32(pl.sw), Int32(pl.sh), AV_PIX_FMT_RGB24,
                                       SWS_BICUBIC, nil, nil, nil)
            guard let sws else { throw MediaError.decodeFailed(name: name, reason: "cannot scale pixel format \(fmt.rawValue)") }
            let ok = scaled.withUnsafeMutableBufferPointer { dst -> Int32 in
                var dstData: [UnsafeMutablePointer<UInt8>?] = [dst.baseAddress, nil, nil, nil]
                var dstStride: [Int32] = [Int32(stride), 0, 0, 0]
                return sws_scale(sws, UnsafePointer(cff_frame_data(f)).withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { $0 },
                                 cff_frame_linesize(f), 0, Int32(h), &dstData, &dstStride)
            }
            guard ok > 0 else { throw MediaError.decodeFailed(name: name, reason: "swscale failed") }
        }
        var out = [UInt8](repeating: 0, count: S * S * 3)
        scaled.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { VideoDecoder.place(src.baseAddress!, stride: stride, bytesPerPixel: 3, pl, rotation: rotation, size: S, into: $0.baseAddress!) }
        }
        return RGBFrame(width: S, height: S, pixels: out)
    }

    /// The same frame as limited-range Y'CbCr 4:4:4: planar Y'CbCr sources are scaled in Y'CbCr and placed as
    /// they are (letterbox black is 16, 128, 128); others go through `convert`'s RGB.
    private func convertYCbCr(_ f: UnsafeMutablePointer<AVFrame>) throws -> YCbCrFrame {
        let (pl, w, h, fmt) = try placement(f)
        let S = options.size
        guard !options.scaleInRGB && VideoDecoder.planarYUV.contains(fmt) else {
            let rgb = try convert(f)
            var frame = YCbCrFrame(width: S, height: S)
            rgb.pixels.withUnsafeBufferPointer { p in
                frame.y.withUnsafeMutableBufferPointer { y in
                    frame.cb.withUnsafeMutableBufferPointer { cb in
                        frame.cr.withUnsafeMutableBufferPointer { cr in
                            ColorConversion.rgbToYUV(rgb: p.baseAddress!, width: S, height: S, subsampled: false, fullRange: false,
                                                     y: y.baseAddress!, cb: cb.baseAddress!, cr: cr.baseAddress!)
                        }
                    }
                }
            }
            return frame
        }
        let at = try scaleYUV(f, width: w, height: h, format: fmt, toWidth: pl.sw, height: pl.sh, subsampled: false)
        return placePlanes(at, luma: pl, chroma: pl, rotation: rotation, subsampled: false)
    }

    /// The frame's three planes from `planes` (laid out as `at`), each placed by `place`.
    private func placePlanes(_ at: PlaneLayout, luma: Placement, chroma: Placement, rotation: Int, subsampled: Bool) -> YCbCrFrame {
        let S = options.size
        var frame = YCbCrFrame(width: S, height: S, subsampled: subsampled)
        let cS = frame.chromaWidth
        planes.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            frame.y.withUnsafeMutableBufferPointer { VideoDecoder.place(base, stride: at.lumaStride, bytesPerPixel: 1, luma, rotation: rotation, size: S, into: $0.baseAddress!) }
            frame.cb.withUnsafeMutableBufferPointer { VideoDecoder.place(base + at.cb, stride: at.chromaStride, bytesPerPixel: 1, chroma, rotation: rotation, size: cS, into: $0.baseAddress!) }
            frame.cr.withUnsafeMutableBufferPointer { VideoDecoder.place(base + at.cr, stride: at.chromaStride, bytesPerPixel: 1, chroma, rotation: rotation, size: cS, into: $0.baseAddress!) }
        }
        return frame
    }

    private func convertYCbCr420(_ f: UnsafeMutablePointer<AVFrame>) throws -> YCbCrFrame {
        var (pl, w, h, fmt) = try placement(f)
        // The direct path keeps every chroma sample on a 2×2 luma block: even offsets (a crop's rounded down,
        // a letterbox margin must already be even) and an unrotated picture.
        if pl.ox > 0 { pl.ox &= ~1 }
        if pl.oy > 0 { pl.oy &= ~1 }
        guard !options.scaleInRGB, rotation == 0, VideoDecoder.planarYUV.contains(fmt), pl.ox % 2 == 0, pl.oy % 2 == 0 else {
            return try convertYCbCr(f).subsampled()
        }
        let at = try scaleYUV(f, width: w, height: h, format: fmt, toWidth: pl.sw, height: pl.sh, subsampled: true)
        let cw = (pl.sw + 1) / 2, ch = (pl.sh + 1) / 2
        return placePlanes(at, luma: pl, chroma: Placement(sw: cw, sh: ch, tw: cw, th: ch, ox: pl.ox / 2, oy: pl.oy / 2),
                           rotation: 0, subsampled: true)
    }

    /// Copies a scaled picture (rows `stride` bytes apart, `bytesPerPixel` interleaved bytes per pixel) into the
    /// size × size output in display orientation: rotated, then centre-cropped or letterboxed. Output pixels
    /// outside the picture keep what `dst` held (the letterbox colour).
    private static func place(_ src: UnsafePointer<UInt8>, stride: Int, bytesPerPixel bpp: Int, _ pl: Placement,
                              rotation: Int, size S: Int, into dst: UnsafeMutablePointer<UInt8>) {
        for y in 0..<S {
            let dy = y + pl.oy
            if dy < 0 || dy >= pl.th { continue }
            if rotation == 0 {   // unrotated: one copy per row
                let x0 = max(0, -pl.ox), x1 = min(S, pl.tw - pl.ox)
                if x1 > x0 { (dst + (y * S + x0) * bpp).update(from: src + dy * stride + (x0 + pl.ox) * bpp, count: (x1 - x0) * bpp) }
                continue
            }
            for x in 0..<S {
                let dx = x + pl.ox
                if dx < 0 || dx >= pl.tw { continue }
                // Display (dx, dy) → raw scaled (rx, ry).
                let rx: Int, ry: Int
                switch rotation {
                case 1: rx = dy; ry = pl.sh - 1 - dx
                case 2: rx = pl.sw - 1 - dx; ry = pl.sh - 1 - dy
                case 3: rx = pl.sw - 1 - dy; ry = dx
                default: rx = dx; ry = dy
                }
                let s = ry * stride + rx * bpp, d = (y * S + x) * bpp
                for k in 0..<bpp { dst[d + k] = src[s + k] }
            }
        }
    }

    /// 8-bit planar Y'CbCr layouts that `scaleYUV` handles (4:2:0, 4:2:2, 4:4:4, limited or JPEG range).
    static let planarYUV: Set<AVPixelFormat> = [AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV422P,
                                                AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUVJ444P]

    /// The common case, 8-bit planar Y'CbCr sources: swscale scales in Y'CbCr to 4:4:4 or 4:2:0 (its fast planar
    /// path, what ffmpeg's scale filter does; it interpolates the chroma, so ours needs no up-sampling) into
    /// `planes`, laid out as the returned `PlaneLayout` says. The small scaled picture is then
    /// converted to RGB by us (`convert`) or written as it is (`convertYCbCr`): swscale's bicubic
    /// scale-and-convert to packed RGB24 was over half of hv-decode's time on 4:2:0 MPEG-4. Limited-range BT.601,
    /// as swscale assumes without colour details (a YUVJ source is brought to limited range by swscale), so every
    /// path gives the same colours.
    private struct PlaneLayout {
        var lumaStride: Int, chromaStride: Int, cb: Int, cr: Int   // strides, and the chroma planes' offsets
    }

    private func scaleYUV(_ f: UnsafeMutablePointer<AVFrame>, width w: Int, height h: Int, format fmt: AVPixelFormat,
                          toWidth sw: Int, height sh: Int, subsampled: Bool) throws -> PlaneLayout {
        sws = sws_getCachedContext(sws, Int32(w), Int32(h), fmt, Int32(sw), Int32(sh),
                                   subsampled ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_YUV444P, SWS_BICUBIC, nil, nil, nil)
        guard let sws else { throw MediaError.decodeFailed(name: name, reason: "cannot scale pixel format \(fmt.rawValue)") }
        // Planes of a padded stride plus slack each (swscale may write a little past a row's end).
        let cw = subsampled ? (sw + 1) / 2 : sw, ch = subsampled ? (sh + 1) / 2 : sh
        let ys = (sw + 63) / 64 * 64, cs = (cw + 63) / 64 * 64
        let ySize = ys * sh + 64, cSize = cs * ch + 64
        if planes.count < ySize + 2 * cSize { planes = [UInt8](repeating: 0, count: ySize + 2 * cSize) }
        let ok = planes.withUnsafeMutableBufferPointer { p -> Int32 in
            let base = p.baseAddress!
            var dstData: [UnsafeMutablePointer<UInt8>?] = [base, base + ySize, base + ySize + cSize, nil]
            var dstStride: [Int32] = [Int32(ys), Int32(cs), Int32(cs), 0]
            return sws_scale(sws, UnsafePointer(cff_frame_data(f)).withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { $0 },
                             cff_frame_linesize(f), 0, Int32(h), &dstData, &dstStride)
        }
        guard ok > 0 else { throw MediaError.decodeFailed(name: name, reason: "swscale failed") }
        return PlaneLayout(lumaStride: ys, chromaStride: cs, cb: ySize, cr: ySize + cSize)
    }
}
