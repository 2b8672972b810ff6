// The generator's evaluation prompts (pipelines/eval-prompts.tsv) must stay unseen: every one paraphrases the
// caption of a captioned training source, none is a training caption, and no extra phrasing of a source
// (pipelines/captions.tsv lists several per source) comes near one in words — else `make eval-gen` would measure
// recall of training text, not prompts the generator never saw.
import Foundation
import XCTest
import HVGen

final class EvalPromptsTests: XCTestCase {
    static let pipelines = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("pipelines")

    /// NAME<TAB>TEXT lines, without blank lines and '#' comments.
    func rows(_ file: String) throws -> [(name: String, text: String)] {
        try String(contentsOf: EvalPromptsTests.pipelines.appendingPathComponent(file), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { line in
                let f = line.split(separator: "\t", maxSplits: 1).map(String.init)
                XCTAssertEqual(f.count, 2, "\(file): '\(line)' is not NAME<TAB>TEXT")
                return (f[0], f.count > 1 ? f[1] : "")
            }
    }

    /// The overlap `hv-train lm --holdout-prompts` leaves variants out by, so the two checks agree.
    static func overlap(_ a: String, _ b: String) -> Double {
        CaptionVariants.overlap(CaptionVariants.words(a), CaptionVariants.words(b))
    }

    func testEvalPromptsAreNotTrainingCaptions() throws {
        let captions = try rows("captions.tsv"), prompts = try rows("eval-prompts.tsv")
        XCTAssertGreaterThanOrEqual(prompts.count, 20)
        var first: [String: String] = [:], extra: [(String, String)] = []
        for c in captions {
            if first[c.name] == nil { first[c.name] = c.text } else { extra.append(c) }
        }
        XCTAssertGreaterThan(extra.count, first.count, "several phrasings per source")
        for name in Set(captions.map(\.name)) {
            let texts = captions.filter { $0.name == name }.map { $0.text.lowercased() }
            XCTAssertEqual(Set(texts).count, texts.count, "\(name) has a phrasing twice")
        }
        for p in prompts {
            XCTAssertNotNil(first[p.name], "eval prompt of '\(p.name)', which has no caption")
            XCTAssertFalse(captions.contains { $0.text.lowercased() == p.text.lowercased() }, "'\(p.text)' is a training caption")
            for (name, text) in extra {
                XCTAssertLessThan(EvalPromptsTests.overlap(p.text, text), 0.6, "'\(text)' (\(name)) is close to the eval prompt '\(p.text)'")
            }
        }
    }

    func testOverlapMeasure() {
        XCTAssertEqual(EvalPromptsTests.overlap("a red apple", "Apple, a RED"), 1)
        XCTAssertEqual(EvalPromptsTests.overlap("a red apple", "blue sky"), 0)
        XCTAssertEqual(EvalPromptsTests.overlap("a red apple", "a green apple"), 0.5)
    }
}
