import XCTest

/// `hv-bench train` times the clip shape it is asked for: the later training stages crop 64 frames of 128², which
/// the bench's original one-number `--crop` (frames = side) could not express.
final class BenchTrainCLITests: XCTestCase {
    func testFramesMustBeAWholeNumberOfLatentSteps() throws {
        for bad in ["12", "0", "-8"] {
            let r = try Tools.run("hv-bench", ["train", "--no-peer", "--frames", bad])
            XCTAssertEqual(r.status, 64, "--frames \(bad): \(r.stderr)")
            let errors = r.stderr.split(separator: "\n").filter { $0.contains("error:") }
            XCTAssertEqual(errors.count, 1, r.stderr)
            XCTAssertTrue(errors.first?.contains("--frames") ?? false, r.stderr)
        }
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
}
