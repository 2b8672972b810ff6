// H.264 in MP4 through libavcodec/libavformat (libx264 when available), yuv420p BT.601 limited range,
// constant frame rate. Frames are RGB; conversion is ours (ColorConversion), so it matches y4m output.
import CFFmpeg
import Foundation

public final class MP4Writer {
    private var oc: UnsafeMutablePointer<AVFormatContext>?
    private var ctx: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private let path: String
    /// The name errors use: the user's name for the file, not the temporary one written.
    private let name: String
    private var next: Int64 = 0
    private var finished = false
    public let width: Int, height: Int

    /// Opens `path` for writing (the caller makes it atomic by writing to a temporary name and passes the final
    /// one as `name`).
    public init(path: String, name: String? = nil, width: Int, height: Int, frameRate: FrameRate, crf: Int = 18) throws {
        self.path = path; self.name = name ?? path; self.width = width; self.height = height
        av_log_set_level(AV_LOG_QUIET)
        let name = self.name
        func fail(_ r: String) -> MediaError { .encodeFailed(name: name, reason: r) }
        guard width % 2 == 0, height % 2 == 0 else { throw fail("H.264 needs even dimensions, got \(width)x\(height)") }
        var o: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_alloc_output_context2(&o, nil, "mp4", path) >= 0, let o else { throw fail("cannot create an mp4 muxer") }
        oc = o
        guard let codec = avcodec_find_encoder_by_name("libx264") ?? avcodec_find_encoder(AV_CODEC_ID_H264) else {
            throw fail("no H.264 encoder in this libavcodec")
        }
        guard let st = avformat_new_stream(o, nil), let c = avcodec_alloc_context3(codec) else { throw fail("out of memory") }
        stream = st; ctx = c
        c.pointee.width = Int32(width); c.pointee.height = Int32(height)
        c.pointee.time_base = AVRational(num: Int32(frameRate.denominator), den: Int32(frameRate.numerator))
        c.pointee.framerate = AVRational(num: Int32(frameRate.numerator), den: Int32(frameRate.denominator))
        c.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        c.pointee.gop_size = 32
        c.pointee.color_range = AVCOL_RANGE_MPEG
        c.pointee.colorspace = AVCOL_SPC_SMPTE170M
        c.pointee.color_primaries = AVCOL_PRI_SMPTE170M
        c.pointee.color_trc = AVCOL_TRC_SMPTE170M
        if (o.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0 { c.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        av_opt_set(c.pointee.priv_data, "crf", "\(crf)", 0)
        av_opt_set(c.pointee.priv_data, "preset", "veryfast", 0)
        guard avcodec_open2(c, codec, nil) >= 0 else { throw fail("cannot open the H.264 encoder") }
        avcodec_parameters_from_context(st.pointee.codecpar, c)
        st.pointee.time_base = c.pointee.time_base
        let opened = avio_open(&o.pointee.pb, path, AVIO_FLAG_WRITE)
        guard opened >= 0 else { throw MediaError.cannotCreate(name: name, reason: MP4Writer.reason(opened)) }
        try check(avformat_write_header(o, nil))
        frame = av_frame_alloc(); packet = av_packet_alloc()
        guard let frame else { throw fail("out of memory") }
        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = Int32(width); frame.pointee.height = Int32(height)
        guard av_frame_get_buffer(frame, 0) >= 0 else { throw fail("out of memory") }
    }

    deinit {
        av_frame_free(&frame); av_packet_free(&packet); avcodec_free_context(&ctx)
        if let oc { if !finished { avio_closep(&oc.pointee.pb) }; avformat_free_context(oc) }
    }

    public func write(_ f: RGBFrame) throws {
        guard let frame, let ctx else { return }
        guard f.width == width, f.height == height else { throw MediaError.encodeFailed(name: name, reason: "frame size changed") }
        guard av_frame_make_writable(frame) >= 0 else { throw MediaError.encodeFailed(name: name, reason: "frame buffer busy") }
        let data = cff_frame_data(frame)!, ls = cff_frame_linesize(frame)!
        var y = [UInt8](repeating: 0, count: width * height)
        var cb = [UInt8](repeating: 0, count: width * height / 4), cr = cb
        f.pixels.withUnsafeBufferPointer { rgb in
            ColorConversion.rgbToYUV(rgb: rgb.baseAddress!, width: width, height: height, subsampled: true, fullRange: false,
                                     y: &y, cb: &cb, cr: &cr)
        }
        for row in 0..<height { for c in 0..<width { data[0]![row * Int(ls[0]) + c] = y[row * width + c] } }
        for row in 0..<(height / 2) { for c in 0..<(width / 2) {
            data[1]![row * Int(ls[1]) + c] = cb[row * width / 2 + c]
            data[2]![row * Int(ls[2]) + c] = cr[row * width / 2 + c]
        } }
        frame.pointee.pts = next
        next += 1
        try send(frame, ctx)
    }

    private func send(_ f: UnsafeMutablePointer<AVFrame>?, _ c: UnsafeMutablePointer<AVCodecContext>) throws {
        guard avcodec_send_frame(c, f) >= 0 else { throw MediaError.encodeFailed(name: name, reason: "the encoder refused a frame") }
        while true {
            let r = avcodec_receive_packet(c, packet)
            if r == cff_averror(EAGAIN) || r == cff_averror_eof() { return }
            guard r >= 0, let packet, let oc else { throw MediaError.encodeFailed(name: name, reason: "encoding failed") }
            // Every frame lasts one frame period. Packets drained at the end can come without a duration, and the
            // mp4 muxer then ends the edit list at the last frame's start: readers dropped the last frame.
            if packet.pointee.duration <= 0 { packet.pointee.duration = 1 }
            av_packet_rescale_ts(packet, c.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            try check(av_interleaved_write_frame(oc, packet))
        }
    }

    /// Flushes the encoder and writes the trailer.
    public func finish() throws {
        guard !finished, let ctx, let oc else { return }
        try send(nil, ctx)
        try check(av_write_trailer(oc))
        finished = true
        // Closing flushes avio's buffer: a full disk can show only here.
        try check(avio_closep(&oc.pointee.pb))
    }

    /// Throws a write error (exit 74) under the user's name for the file, with the system's reason.
    private func check(_ status: Int32) throws {
        if status < 0 { throw MediaError.writeFailed(name: name, reason: MP4Writer.reason(status)) }
    }

    static func reason(_ status: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 256)
        av_strerror(status, &buf, buf.count)
        return String(cString: buf)
    }
}
