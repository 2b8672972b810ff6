// WordPiece tokenizer against transformers' BertTokenizer ids (Golden/tokenizer.json, from make_golden.py):
// accents, punctuation, unknown words, CJK, control characters, whitespace, truncation at 256 tokens.
import XCTest
@testable import HVText

enum TextFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let modelDir = packageRoot.appendingPathComponent("models/text-encoder").path
    static var golden: URL { Bundle.module.url(forResource: "Golden", withExtension: nil)! }

    /// The fetched model directory, or a loud skip (`make test` fetches it through `make deps`).
    static func requireModel() throws -> String {
        let vocab = (modelDir as NSString).appendingPathComponent("vocab.txt")
        let weights = (modelDir as NSString).appendingPathComponent("model.safetensors")
        if !FileManager.default.fileExists(atPath: vocab) || !FileManager.default.fileExists(atPath: weights) {
            let msg = "SKIPPED: text encoder not fetched at \(modelDir); run 'make text-encoder'"
            FileHandle.standardError.write(Data((msg + "\n").utf8))
            throw XCTSkip(msg)
        }
        return modelDir
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: golden.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

final class WordPieceTests: XCTestCase {
    static var cached: WordPieceTokenizer?
    func tokenizer() throws -> WordPieceTokenizer {
        if let t = WordPieceTests.cached { return t }
        let dir = try TextFixtures.requireModel()
        let t = try WordPieceTokenizer(vocabularyFile: (dir as NSString).appendingPathComponent("vocab.txt"))
        WordPieceTests.cached = t
        return t
    }

    func testReferenceSentence() throws {
        let t = try tokenizer()
        XCTAssertEqual(t.encode("a cockatoo looks into the camera"), [101, 1037, 10338, 10610, 2080, 3504, 2046, 1996, 4950, 102])
        XCTAssertEqual(t.clsID, 101); XCTAssertEqual(t.sepID, 102); XCTAssertEqual(t.unknownID, 100); XCTAssertEqual(t.padID, 0)
    }

    func testGoldenCasesMatchTransformers() throws {
        let t = try tokenizer()
        let cases = try XCTUnwrap(TextFixtures.json("tokenizer.json")["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 15)
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            let want = try XCTUnwrap(c["ids"] as? [Int]).map(Int32.init)
            let got = t.encode(text)
            XCTAssertEqual(got, want, "ids differ for \(text.debugDescription): \(t.tokens(got)) vs \(t.tokens(want))")
        }
    }

    func testLongCaptionTruncatedAt256() throws {
        let t = try tokenizer()
        let ids = t.encode(String(repeating: "a dog runs on the beach. ", count: 200))
        XCTAssertEqual(ids.count, 256)
        XCTAssertEqual(ids.first, 101)
        XCTAssertEqual(ids.last, 102)
    }

    func testWordOver100CharactersIsUnknown() throws {
        let t = try tokenizer()
        XCTAssertEqual(t.encode(String(repeating: "a", count: 101)), [101, 100, 102])
        XCTAssertNotEqual(t.encode(String(repeating: "a", count: 100))[1], 100)
    }

    func testBasicTokenizerRules() throws {
        // A tiny vocabulary makes the rules visible without the real model.
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "cafe", "!", ",", "un", "##aff", "##able", "北", "京", "a"]
        let t = try WordPieceTokenizer(vocabulary: vocab)
        func words(_ s: String) -> [String] { t.basicTokens(s).map { String(String.UnicodeScalarView($0)) } }
        XCTAssertEqual(words("Café!"), ["cafe", "!"])                      // lower-case, NFD, accents stripped, punctuation split
        XCTAssertEqual(words("北京a"), ["北", "京", "a"])                   // CJK ideographs split
        XCTAssertEqual(words("a\u{0000}b\u{200B}c\tD"), ["abc", "d"])      // control and format chars removed, tab is a space
        XCTAssertEqual(words("x\u{00A0}y"), ["x", "y"])                   // Zs is whitespace
        XCTAssertEqual(t.encode("unaffable"), [2, 7, 8, 9, 3])             // greedy longest match with ## continuations
        XCTAssertEqual(t.encode("unaffablex, cafe"), [2, 1, 6, 4, 3])     // one unmatched piece makes the whole word [UNK]
        XCTAssertEqual(t.encode(""), [2, 3])
    }

    func testVocabularyWithoutSpecialTokensIsRejected() {
        XCTAssertThrowsError(try WordPieceTokenizer(vocabulary: ["a", "b"])) { e in
            XCTAssertTrue("\(e)".contains("[UNK]"), "\(e)")
        }
    }

    func testMissingVocabularyFileNamesTheFix() {
        XCTAssertThrowsError(try WordPieceTokenizer(vocabularyFile: "/nonexistent/vocab.txt")) { e in
            XCTAssertTrue("\(e)".contains("make text-encoder"), "\(e)")
            XCTAssertEqual((e as? TextError)?.exitCode, 66)
        }
    }
}
