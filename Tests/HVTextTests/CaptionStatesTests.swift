// The caption-state cache against its format doc (formats/text-states.md): file names, metadata fields and the
// encoder identity follow the doc's rules; a file of this caption and encoder is used without loading the encoder;
// a file of another caption or a damaged one is not trusted. Runs on a stand-in encoder folder (hashed, never
// loaded), so it needs no model.
import Foundation
import HVCore
import HVEngine
import XCTest
@testable import HVText

final class CaptionStatesTests: XCTestCase {
    var dir: String!
    override func setUp() {
        dir = NSTemporaryDirectory() + "caption-states-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir + "/enc", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/enc/vocab.txt", contents: Data("[PAD]\n".utf8))
        FileManager.default.createFile(atPath: dir + "/enc/model.safetensors", contents: Data("not weights".utf8))
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    static func sha(_ bytes: [UInt8]) -> String { var h = SHA256(); h.update(bytes); return h.finalize().map { String(format: "%02x", $0) }.joined() }

    func testNamesAndFieldsFollowTheDoc() throws {
        let c = try CaptionStates(modelDirectory: dir + "/enc", cacheDirectory: dir + "/cache")
        // Identity: the encoder id, '@', SHA-256 of vocab.txt then model.safetensors (no config.json here).
        XCTAssertEqual(c.encoderIdentity, MiniLMEncoder.encoderID + "@" + CaptionStatesTests.sha(Array("[PAD]\nnot weights".utf8)))
        let caption = "a calm lake, a wide view"
        XCTAssertEqual(c.cacheFile(for: caption), dir + "/cache/" + CaptionStatesTests.sha(Array((c.encoderIdentity + "\n" + caption).utf8)) + ".safetensors")
        XCTAssertNil(try CaptionStates(modelDirectory: dir + "/enc", cacheDirectory: nil).cacheFile(for: caption))

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("formats/text-states.md"), encoding: .utf8)
        for field in ["`\(CaptionStates.formatName)`", "`__metadata__.version` | `\(CaptionStates.formatVersion)`", "tensor `\(CaptionStates.tensorName)`",
                      "`__metadata__.encoder`", "`__metadata__.caption`", "`\(MiniLMEncoder.encoderID)@`"] {
            XCTAssertTrue(doc.contains(field), field)
        }
    }

    func testCachedStatesAreReadWithoutTheEncoderAndForeignFilesAreNot() throws {
        let c = try CaptionStates(modelDirectory: dir + "/enc", cacheDirectory: dir + "/cache")
        try FileManager.default.createDirectory(atPath: dir + "/cache", withIntermediateDirectories: true)
        let caption = "grey gravel seen from above"
        let t = Tensor(shape: [3, 4])
        for i in 0..<t.count { t[i] = Float(i) * 0.5 - 1 }
        let meta = ["format": CaptionStates.formatName, "version": CaptionStates.formatVersion, "encoder": c.encoderIdentity, "caption": caption]
        try SafeTensors.save([(CaptionStates.tensorName, t)], metadata: meta, to: c.cacheFile(for: caption)!)
        // Hit: the stand-in weights would fail to load, so this proves the encoder is not touched.
        let got = try c.states([caption, caption])
        XCTAssertEqual(c.cached, 1); XCTAssertEqual(c.computed, 0)
        XCTAssertEqual(got.count, 2)
        XCTAssertEqual(got[0].shape, [3, 4])
        XCTAssertEqual((0..<12).map { got[1][$0] }, (0..<12).map { t[$0] })
        // A file under this caption's name holding another caption is a miss: the encoder is needed (and here fails).
        var other = meta; other["caption"] = "something else"
        try SafeTensors.save([(CaptionStates.tensorName, t)], metadata: other, to: c.cacheFile(for: caption)!)
        XCTAssertNil(c.read(c.cacheFile(for: caption)!, caption: caption))
        XCTAssertThrowsError(try c.states([caption]))
        try Data("junk".utf8).write(to: URL(fileURLWithPath: c.cacheFile(for: caption)!))
        XCTAssertNil(c.read(c.cacheFile(for: caption)!, caption: caption))
        let nan = Tensor(shape: [1, 4]); nan[2] = .nan
        try SafeTensors.save([(CaptionStates.tensorName, nan)], metadata: meta, to: c.cacheFile(for: caption)!)
        XCTAssertNil(c.read(c.cacheFile(for: caption)!, caption: caption))
    }
}
