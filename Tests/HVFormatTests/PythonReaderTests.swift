import XCTest
@testable import HVFormat

/// Runs formats/hvt_reader.py on a file written by the Swift writer and compares every index and mask.
final class PythonReaderTests: XCTestCase {
    func testPythonReferenceReaderAgrees() throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import numpy, zstandard"]
        try probe.run(); probe.waitUntilExit()
        try XCTSkipIf(probe.terminationStatus != 0, "python3 with numpy and zstandard is required (make deps installs them)")

        var h = sampleHeader()
        h.maskStrategy = .zero
        h.layers[2].present = false
        h.maskRecord = MaskRecord(layers: [0, 1, 3], seed: 42)
        let clips = [randomClip(h, seed: 11, maskEvery: 4), randomClip(h, seed: 12, frames: 9)]
        let path = NSTemporaryDirectory() + "py-\(UUID().uuidString).hvt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(try encode(h, clips)).write(to: URL(fileURLWithPath: path))

        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", packageRoot() + "/formats/hvt_reader.py", path, "--json"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let json = try JSONSerialization.jsonObject(with: out) as! [String: Any]
        let header = json["header"] as! [String: Any]
        XCTAssertEqual(header["tokenizer_hash"] as? String, h.tokenizer.hash)
        XCTAssertEqual(header["mask_strategy"] as? String, "zero")
        XCTAssertEqual(header["masked_layers"] as? [Int], [0, 1, 3])
        XCTAssertEqual(header["mask_seed"] as? Int, 42)
        let pyClips = json["clips"] as! [[String: Any]]
        XCTAssertEqual(pyClips.count, clips.count)
        for (pc, sc) in zip(pyClips, clips) {
            XCTAssertEqual(pc["frame_count"] as? Int, sc.frameCount)
            let layers = pc["layers"] as! [String: [Int]], masks = pc["masks"] as! [String: Any]
            for (m, info) in h.layers.enumerated() {
                guard let idx = sc.layers[m] else { XCTAssertNil(layers[info.name]); continue }
                XCTAssertEqual(layers[info.name]!, idx.map { Int($0) }, info.name)
                if let mk = sc.masks[m] { XCTAssertEqual(masks[info.name] as? [Int], mk.map { $0 ? 1 : 0 }) }
                else { XCTAssertTrue(masks[info.name] is NSNull) }
            }
        }
    }
}
