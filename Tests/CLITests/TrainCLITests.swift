import Foundation
import XCTest

/// `hv-train tokenizer` on inputs other than y4m: video files decoded on load, and a dataset manifest's clips.
final class TrainCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = Tools.tempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Two synthetic 2-second videos, 64×48 at 8 fps.
    func makeVideos() throws {
        try FileManager.default.createDirectory(atPath: dir + "/v", withIntermediateDirectories: true)
        for (i, src) in ["testsrc2", "mandelbrot"].enumerated() {
            XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i \(src)=size=64x48:rate=8 -t 2 -pix_fmt yuv420p -c:v libx264 \(dir!)/v/\(i).mp4"), 0)
        }
    }

    func trainArgs(_ out: String) -> [String] {
        ["tokenizer", "--preset", "tiny", "--crop", "32", "--steps", "3", "--eval-every", "3", "--out", dir + "/" + out]
    }

    func csvRows(_ out: String) throws -> [String] {
        try String(contentsOfFile: dir + "/\(out)/train.csv", encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func testTrainsOnVideoFilesAndFolders() throws {
        try makeVideos()
        let r = try Tools.run("hv-train", trainArgs("run") + ["--data", dir + "/v", "--heldout", dir + "/v/1.mp4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("2 videos (32 frames)"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/run/model.safetensors"))
        // The last row carries the held-out PSNR of the two layers (non-empty numbers).
        let last = try csvRows("run").last!.split(separator: ",", omittingEmptySubsequences: false)
        XCTAssertEqual(last.first, "3")
        XCTAssertNotNil(Double(last[last.count - 1]), String(last.joined(separator: ",")))
    }

    func testTrainsOnManifestClipsOfASplit() throws {
        try makeVideos()
        let db = dir + "/m.db"
        XCTAssertEqual(try Tools.run("hv-manifest", ["init", db]).status, 0)
        XCTAssertEqual(try Tools.run("hv-manifest", ["add", db, "--dir", dir + "/v", "--clip-seconds", "1"]).status, 0)
        // Everything in train: no val clips, so no held-out PSNR.
        XCTAssertEqual(try Tools.run("hv-manifest", ["split", db, "--val-fraction", "0", "--seed", "0"]).status, 0)
        let r = try Tools.run("hv-train", trainArgs("run") + ["--manifest", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("4 videos (32 frames)"), r.stderr)   // 2 videos × two 1-second clips
        // All in val: the train split is empty — a clear usage error, nothing written.
        XCTAssertEqual(try Tools.run("hv-manifest", ["split", db, "--val-fraction", "1", "--seed", "0"]).status, 0)
        let empty = try Tools.run("hv-train", trainArgs("run2") + ["--manifest", db])
        XCTAssertEqual(empty.status, 64, empty.stderr)
        XCTAssertTrue(empty.stderr.hasPrefix("hv-train: error:"), empty.stderr)
        XCTAssertTrue(empty.stderr.contains("split"), empty.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run2/model.safetensors"))
        // Training on val with --split val works; a missing manifest is refused.
        XCTAssertEqual(try Tools.run("hv-train", trainArgs("run3") + ["--manifest", db, "--split", "val"]).status, 0)
        let missing = try Tools.run("hv-train", trainArgs("run4") + ["--manifest", dir + "/nope.db"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.hasPrefix("hv-train: error:"), missing.stderr)
    }
}
