// Shared helpers for manifest tests: temporary folders, tiny ffmpeg test videos, running the built tools.
import Foundation
import XCTest
@testable import HVManifest

enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The folder holding the built products (the test runner sits beside them in .build/<config>/).
    static var binDir: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if url.lastPathComponent == "MacOS" { url = url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        return url
    }

    static func tool(_ name: String) throws -> String {
        let p = binDir.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: p) else {
            XCTFail("\(name) not built at \(p); run 'swift build' first")
            throw XCTSkip("no \(name)")
        }
        return p
    }

    /// Temporary folders made during the current test; ManifestTestCase removes them afterwards.
    nonisolated(unsafe) static var made: [URL] = []

    static func tempDir(_ label: String = "hvm") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        made.append(url)
        return url
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// Runs `executable` with `arguments` and returns its exit status and output.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], cwd: URL? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let cwd { p.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Makes a `seconds`-long testsrc2 video (64×48, 10 fps) with ffmpeg.
    static func makeVideo(_ url: URL, seconds: Double) throws {
        let r = try run("/usr/bin/env", ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                                         "testsrc2=size=64x48:rate=10:duration=\(seconds)", "-pix_fmt", "yuv420p", url.path])
        guard r.status == 0 else { throw XCTSkip("ffmpeg unavailable: \(r.stderr)") }
    }

    /// A dataset folder: videos/a.mp4 (17.5 s), videos/b.mp4 (8 s), videos/c.mp4 (0.5 s) and meta.csv / meta.jsonl.
    static func dataset() throws -> URL {
        let dir = try tempDir("hvm-data")
        let videos = dir.appendingPathComponent("videos")
        try FileManager.default.createDirectory(at: videos, withIntermediateDirectories: true)
        try makeVideo(videos.appendingPathComponent("a.mp4"), seconds: 17.5)
        try makeVideo(videos.appendingPathComponent("b.mp4"), seconds: 8)
        try makeVideo(videos.appendingPathComponent("c.mp4"), seconds: 0.5)
        try #"""
            id,path,caption
            a,videos/a.mp4,"a colourful test pattern, with a moving ""clock"""
            b,videos/b.mp4,test pattern scrolling
            c,videos/c.mp4,a very short clip

            """#.write(to: dir.appendingPathComponent("meta.csv"), atomically: true, encoding: .utf8)
        try """
            {"id": "a", "video": "videos/a.mp4", "text": "a colourful test pattern"}
            {"id": "b", "video": "videos/b.mp4", "text": "test pattern scrolling"}

            """.write(to: dir.appendingPathComponent("meta.jsonl"), atomically: true, encoding: .utf8)
        return dir
    }

    /// A manifest with `videos` synthetic videos of `clipsPerVideo` 8-s clips each (no files needed).
    static func syntheticManifest(at path: String, videos: Int, clipsPerVideo: Int) throws -> Manifest {
        let m = try Manifest(path: path, create: true)
        for v in 0..<videos {
            try m.addVideo(Manifest.NewVideo(key: "video\(v)", path: "/data/video\(v).mp4", sha256: String(repeating: "0", count: 64),
                                             bytes: 1000, info: VideoInfo(duration: Double(clipsPerVideo) * 8, fps: 25, width: 64, height: 48),
                                             captions: ["caption of video \(v)"], captionSource: "test"), plan: ClipPlan())
        }
        return m
    }
}

/// Base class of the manifest tests: removes the temporary folders a test made.
class ManifestTestCase: XCTestCase {
    override func tearDown() {
        for url in Fixtures.made { try? FileManager.default.removeItem(at: url) }
        Fixtures.made = []
        super.tearDown()
    }
}
