// Word dropout on captions (CaptionVariants): variants are order-kept subsets of a caption's words, distinct, never
// the caption, the same on every run; and those of the shipped captions stay away from the evaluation prompts.
import XCTest
@testable import HVGen

final class CaptionVariantsTests: XCTestCase {
    /// True when `a`'s words appear in `b` in order (a subsequence).
    func isSubsequence(_ a: [Substring], of b: [Substring]) -> Bool {
        var i = 0
        for w in b where i < a.count && a[i] == w { i += 1 }
        return i == a.count
    }

    func testVariantsAreShortenedCaptions() {
        let caption = "a green tree swaying in the wind against a white sky"
        let words = caption.split(separator: " ")
        let v = CaptionVariants.shortened(caption, count: 5, dropRate: 0.3, seed: 7)
        XCTAssertEqual(v.count, 5)
        XCTAssertEqual(Set(v).count, v.count, "variants repeat")
        for s in v {
            let w = s.split(separator: " ")
            XCTAssertGreaterThanOrEqual(w.count, 2)
            XCTAssertLessThan(w.count, words.count, "'\(s)' drops no word")
            XCTAssertTrue(isSubsequence(w, of: words), "'\(s)' is not the caption's words in order")
        }
        XCTAssertEqual(v, CaptionVariants.shortened(caption, count: 5, dropRate: 0.3, seed: 7), "not deterministic")
        XCTAssertNotEqual(v, CaptionVariants.shortened(caption, count: 5, dropRate: 0.3, seed: 8), "the seed is ignored")
        // Nothing to vary: off, or too few words; and a three-word caption has only three two-word subsequences.
        XCTAssertEqual(CaptionVariants.shortened(caption, count: 5, dropRate: 0, seed: 7), [])
        XCTAssertEqual(CaptionVariants.shortened("blue sky", count: 5, dropRate: 0.5, seed: 7), [])
        XCTAssertLessThanOrEqual(CaptionVariants.shortened("a red apple", count: 9, dropRate: 0.5, seed: 7).count, 3)
    }

    func testWithVariantsKeepsTheCaptionsFirst() {
        let cs = ["a kite in a deep blue sky", "deep blue sky, thin clouds and a bright kite"]
        let (all, avoided) = CaptionVariants.withVariants(cs, count: 3, dropRate: 0.3, seed: 0)
        XCTAssertEqual(avoided, 0)
        XCTAssertEqual(Array(all.prefix(2)), cs)
        XCTAssertEqual(Set(all).count, all.count)
        XCTAssertGreaterThan(all.count, 2)
        XCTAssertLessThanOrEqual(all.count, 2 + 2 * 3)
    }

    /// Held-out prompts: a variant sharing 60 % of its words with one is left out (and counted), the captions
    /// themselves are kept; the shipped captions at the recipe's settings do come near two prompts, so the guard is
    /// not idle.
    func testVariantsNearAHeldOutPromptAreLeftOut() throws {
        let caption = "a kid cycling over a school playground past a soccer goal"
        let prompt = "a kid cycling through a school playground near a goal"
        let free = CaptionVariants.withVariants([caption], count: 40, dropRate: 0.3, seed: 0)
        let held = CaptionVariants.withVariants([caption], count: 40, dropRate: 0.3, seed: 0, avoid: [prompt])
        let near = free.captions.dropFirst().filter {
            CaptionVariants.overlap(CaptionVariants.words($0), CaptionVariants.words(prompt)) >= 0.6
        }
        XCTAssertFalse(near.isEmpty, "no variant comes near the prompt: the test checks nothing")
        XCTAssertEqual(held.avoided, near.count)
        XCTAssertEqual(held.captions, free.captions.filter { !near.contains($0) })
        XCTAssertEqual(held.captions.first, caption)
        XCTAssertEqual(CaptionVariants.overlap(CaptionVariants.words("a red apple"), CaptionVariants.words("Apple, a RED")), 1)
        XCTAssertEqual(CaptionVariants.overlap(CaptionVariants.words("a red apple"), CaptionVariants.words("a green apple")), 0.5)

        func rows(_ file: String) throws -> [String] {
            try String(contentsOf: EvalPromptsTests.pipelines.appendingPathComponent(file), encoding: .utf8)
                .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                .map { String($0.split(separator: "\t", maxSplits: 1).last!) }
        }
        let prompts = try rows("eval-prompts.tsv")
        var avoided = 0
        for c in try rows("captions.tsv") {
            avoided += CaptionVariants.withVariants([c], count: 3, dropRate: 0.3, seed: 0, avoid: prompts).avoided
        }
        XCTAssertGreaterThan(avoided, 0)
    }
}
