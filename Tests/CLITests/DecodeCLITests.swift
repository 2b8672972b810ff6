import XCTest

/// hv-decode on a real clip and on synthetic edge cases, checked against ffprobe/ffmpeg.
final class DecodeCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = Tools.tempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func capture(_ cmd: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        let out = Pipe(); p.standardOutput = out; p.standardError = FileHandle.nullDevice
        try p.run()
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Frames ffmpeg's fps filter produces for the same job, counted by ffprobe.
    func ffmpegCount(_ src: String) throws -> String {
        try capture("ffmpeg -v error -i \(src) -vf fps=8,scale=256:256:force_original_aspect_ratio=increase,crop=256:256 -f yuv4mpegpipe - | ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 -")
    }

    func ourProbe(_ y4m: String) throws -> String {
        try capture("ffprobe -v error -count_frames -show_entries stream=width,height,nb_read_frames -of csv=p=0 \(y4m)")
    }

    func testRealClipMatchesFFmpegFrameCountAndSize() throws {
        // A real clip: the Lego model video from Debian's python3-hug-doc (434 kB).
        let fetched = try Tools.sh("cd \(dir!) && apt-get download python3-hug-doc && dpkg-deb -x python3-hug-doc_*.deb root")
        try XCTSkipIf(fetched != 0, "could not fetch python3-hug-doc (no apt access); the real-clip test is skipped")
        let src = dir + "/root/usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4"
        let r = try Tools.run("hv-decode", [src, "-o", dir + "/lego.y4m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try ourProbe(dir + "/lego.y4m"), "256,256,\(try ffmpegCount(src))")
    }

    func testVariableFrameRateMatchesFFmpeg() throws {
        // 25 fps with a 0.6 s hole in the middle, stored with variable timestamps.
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=96x64:rate=25 -t 2 -vf \"setpts=PTS+gte(N\\,25)*0.6/TB\" -fps_mode vfr \(dir!)/vfr.mkv"), 0)
        let r = try Tools.run("hv-decode", [dir + "/vfr.mkv", "-o", dir + "/vfr.y4m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try ourProbe(dir + "/vfr.y4m"), "256,256,\(try ffmpegCount(dir + "/vfr.mkv"))")
    }

    func testRotationMetadataIsApplied() throws {
        // A landscape 160x90 clip tagged as rotated by 90°: displayed portrait, so letterboxing puts black
        // bars on the left and right, not at the top and bottom.
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i color=c=white:size=160x90:rate=8 -t 1 -c:v libx264 -pix_fmt yuv420p \(dir!)/a.mp4 && ffmpeg -v error -y -i \(dir!)/a.mp4 -c copy -metadata:s:v:0 rotate=90 \(dir!)/rot.mp4"), 0)
        let r = try Tools.run("hv-decode", [dir + "/rot.mp4", "--size", "64", "--crop", "none", "--frames", "1", "--pix", "444"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let bytes = [UInt8](r.stdout)
        let header = bytes.firstIndex(of: 0x0A)! + 1
        let frame = bytes.index(header, offsetBy: 6)  // "FRAME\n"
        func luma(_ x: Int, _ y: Int) -> UInt8 { bytes[frame + y * 64 + x] }
        XCTAssertLessThan(luma(2, 32), 40, "left bar should be black")
        XCTAssertLessThan(luma(61, 32), 40, "right bar should be black")
        XCTAssertGreaterThan(luma(32, 2), 200, "top centre should be picture (white)")
        XCTAssertGreaterThan(luma(32, 61), 200, "bottom centre should be picture (white)")
    }
}
