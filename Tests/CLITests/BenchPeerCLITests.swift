import XCTest

/// `hv-bench all --only conv` alternates its own calls on each shape with a PyTorch peer that stays up
/// (`bench/peer_conv.py --serve`, PeerServer). These tests stand a scripted peer in for PyTorch, so they check the
/// conversation, not anybody's speed.
final class BenchPeerCLITests: XCTestCase {
    let shape = "32to32_32x16x16"

    /// A peer folder holding a `peer_conv.py` whose serve loop is `body` (Python, with `name` the request), and
    /// the log it appends each request and its arguments to.
    func peer(_ body: String, ready: String = "READY") throws -> (dir: URL, log: URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hv-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let log = dir.appendingPathComponent("requests.log")
        let script = """
        import sys
        log = open(\(String(reflecting: log.path)), "a")
        log.write("ARGS " + " ".join(sys.argv[1:]) + "\\n"); log.flush()
        print(\(String(reflecting: ready)), flush=True)
        answered = 0
        for line in sys.stdin:
            name = line.strip()
            log.write(name + "\\n"); log.flush()
        \(body.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            answered += 1
        """
        try script.write(to: dir.appendingPathComponent("peer_conv.py"), atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return (dir, log)
    }

    func bench(_ peers: URL) throws -> ToolResult {
        try Tools.run("hv-bench", ["all", "--only", "conv", "--conv-shapes", shape, "--peers", peers.path])
    }

    func row(_ r: ToolResult) -> String {
        r.stdoutText.split(separator: "\n").first { $0.hasPrefix(shape) }.map(String.init) ?? ""
    }

    /// Every round asks the peer for the shape once, and the ratio is the peer's best over ours: a peer that takes
    /// a second for what we do in milliseconds reads as hundreds of times slower.
    func testEachRoundAsksThePeerOnce() throws {
        let (dir, log) = try peer(#"print(name, "1.0", "2.0", flush=True)"#)
        let r = try bench(dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let requests = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(requests.first?.contains("--serve") ?? false, "the peer was not started to serve: \(requests)")
        XCTAssertTrue(requests.first?.contains("\(shape):32:32:32:16") ?? false, "the shape list did not reach it: \(requests)")
        XCTAssertEqual(requests.dropFirst().filter { $0 == shape }.count, 5, "\(requests)")
        XCTAssertEqual(requests.count, 6, "\(requests)")
        let ratios = row(r).split(separator: " ").filter { $0.hasSuffix("x") }.compactMap { Double($0.dropLast()) }
        XCTAssertGreaterThan(ratios.count, 1, row(r))
        XCTAssertGreaterThan(ratios[0], 20, "forward ratio of a 1 s peer: \(row(r))")
        XCTAssertGreaterThan(ratios[1], 20, "backward ratio of a 2 s peer: \(row(r))")
    }

    /// A peer that dies mid-way leaves the row without a ratio and a line saying so; the bench finishes.
    func testAPeerThatDiesLeavesTheRowUncompared() throws {
        let (dir, _) = try peer(#"""
        if answered == 2:
            sys.exit(1)
        print(name, "1.0", "2.0", flush=True)
        """#)
        let r = try bench(dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdoutText.contains("conv3d peer: no answer for \(shape)"), r.stdoutText)
        XCTAssertTrue(row(r).contains("peer skipped"), row(r))
    }

    /// Without PyTorch the peer says SKIP and the bench says why, timing our side alone.
    func testAPeerWithoutTorchIsSkippedWithItsReason() throws {
        let (dir, _) = try peer("pass", ready: "SKIP torch not installed")
        let r = try bench(dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdoutText.contains("conv3d peer: SKIPPED — PyTorch is not installed"), r.stdoutText)
        XCTAssertTrue(row(r).contains("peer skipped"), row(r))
    }
}
