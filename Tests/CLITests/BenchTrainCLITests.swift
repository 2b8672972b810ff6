import XCTest

/// `hv-bench train` times the clip shape it is asked for: the later training stages crop 64 frames of 128², which
/// the bench's original one-number `--crop` (frames = side) could not express.
final class BenchTrainCLITests: XCTestCase {
    func testFramesMustBeAWholeNumberOfLatentSteps() throws {
        // small2's coarsest layer pools 64 frames × 64² into one token: other sizes would stop the child mid-step.
        for bad in ["12", "0", "-8", "32"] {
            let r = try Tools.run("hv-bench", ["train", "--no-peer", "--frames", bad])
            XCTAssertEqual(r.status, 64, "--frames \(bad): \(r.stderr)")
            let errors = r.stderr.split(separator: "\n").filter { $0.contains("error:") }
            XCTAssertEqual(errors.count, 1, r.stderr)
            XCTAssertTrue(errors.first?.contains("--frames") ?? false, r.stderr)
        }
        let crop = try Tools.run("hv-bench", ["train", "--no-peer", "--crop", "96"])
        XCTAssertEqual(crop.status, 64, crop.stderr)
        XCTAssertTrue(crop.stderr.contains("--crop"), crop.stderr)
    }

    /// The child process that does the timing gets the frame count too: a clip of twice the frames of its side runs
    /// the real training step and reports a time.
    func testFramesReachTheTimedStep() throws {
        let r = try Tools.run("hv-bench", ["train", "--no-peer", "--threads", "1", "--steps", "1", "--crop", "64", "--frames", "128"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdoutText.contains("128-frame 64² synthetic clip"), r.stdoutText)
        let line = r.stdoutText.split(separator: "\n").first { $0.hasPrefix("threads 1:") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains("ms/step"), "no timed line (did the child fail?): \(r.stdoutText)")
        XCTAssertFalse(line.contains("nan"), line)
    }

    /// `--one-core-ab` alternates full-width steps with one-core steps in one process and prints the gain; it is one
    /// of the A/B flags, of which only one may be given.
    func testOneCoreArmPrintsTheSecondCoresGain() throws {
        let r = try Tools.run("hv-bench", ["train", "--no-peer", "--threads", "2", "--steps", "1", "--one-core-ab"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = r.stdoutText.split(separator: "\n").first { $0.contains("the same process on one core") }.map(String.init) ?? ""
        let gain = line.split(separator: "gain ").last.flatMap { Double($0.prefix { $0.isNumber || $0 == "." }) }
        XCTAssertNotNil(gain, "no gain line: \(r.stdoutText)")
        XCTAssertGreaterThan(gain ?? 0, 0, line)
        let both = try Tools.run("hv-bench", ["train", "--no-peer", "--one-core-ab", "--replicas-ab"])
        XCTAssertEqual(both.status, 64, both.stderr)
        XCTAssertTrue(both.stderr.contains("--one-core-ab"), both.stderr)
    }
}
